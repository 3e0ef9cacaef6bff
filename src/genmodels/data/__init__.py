"""Data sets that work offline, a user's own files, and fixed seeded splits."""

from genmodels.data import builtin as _builtin  # noqa: F401  (registers the built-in data sets)
from genmodels.data import synthetic as _synthetic  # noqa: F401  (registers the 2-D test beds)
from genmodels.data.loading import load_data
from genmodels.data.registry import list_datasets, register_dataset
from genmodels.data.spec import DataSpec, DataSplits, ImageSplit

__all__ = ["DataSpec", "DataSplits", "ImageSplit", "list_datasets", "load_data", "register_dataset"]

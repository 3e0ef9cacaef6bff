"""Data sets that work offline, a user's own files, and fixed seeded splits."""

from genmodels.data import builtin as _builtin  # noqa: F401  (registers the built-in data sets)
from genmodels.data import synthetic as _synthetic  # noqa: F401  (registers the 2-D test beds)
from genmodels.data.loading import load_data
from genmodels.data.registry import DATASETS, register_dataset
from genmodels.data.spec import DataSpec, DataSplits, ImageSplit
from genmodels.data.text import TEXT_DATASETS, TextSplit, TokenWindows
from genmodels.data.tokenizers import BPETokenizer, CharTokenizer, SelfiesTokenizer, Tokenizer, load_tokenizer


def list_datasets() -> dict[str, str]:
    """Every built-in data set (images, 2-D points, text) with its description."""
    descriptions = {name: dataset.description for name, dataset in DATASETS.items()}
    descriptions.update({name: description for name, (description, _) in TEXT_DATASETS.items()})
    return dict(sorted(descriptions.items()))


__all__ = [
    "BPETokenizer",
    "CharTokenizer",
    "DataSpec",
    "DataSplits",
    "ImageSplit",
    "SelfiesTokenizer",
    "TextSplit",
    "TokenWindows",
    "Tokenizer",
    "list_datasets",
    "load_data",
    "load_tokenizer",
    "register_dataset",
]

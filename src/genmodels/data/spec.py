"""What data to load (``DataSpec``) and what comes back (``DataSplits`` of ``ImageSplit`` or text splits)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import torch

from genmodels.errors import DataError, GenmodelsError
from genmodels.io.dataclass_json import dataclass_from_dict
from genmodels.io.validation import NonNegativeInt, PositiveInt, UnitInterval, check_fields

if TYPE_CHECKING:
    from genmodels.data.streaming import StreamingColumn


@dataclass(frozen=True)
class DataSpec:
    """A data set and how to prepare it; saved in every run so the same data can be rebuilt."""

    name: str
    """A registered name (``genmodels datasets``) or a path: image folder, ``.npy``/``.npz`` file, IDX directory."""
    binarize: bool = False
    """Statically binarize: each pixel ~ Bernoulli(intensity), drawn once with a fixed seed."""
    image_size: PositiveInt | None = None
    """Resize to ``image_size`` x ``image_size``; needed for a folder of images of mixed sizes."""
    channels: PositiveInt | None = None
    """1 or 3 to convert; None keeps what the data has."""
    validation_fraction: UnitInterval = 0.1
    test_fraction: UnitInterval = 0.1
    split_seed: int = 0
    tokenizer: str | None = None
    """Text only: ``"char"`` (the default for text), ``"selfies"`` (one token per SELFIES symbol) or ``"bpe"``
    (byte-level BPE, trained on the training split)."""
    vocab_size: PositiveInt | None = None
    """Text with the ``bpe`` tokenizer: vocabulary size (default 1024)."""
    context_length: PositiveInt | None = None
    """Text only: tokens a model sees at once (default 256); rows are this plus the one token predicted last."""
    memory_map: bool = False
    """Text only: write token arrays to ``~/.cache/genmodels/tokens`` and memory-map them (for huge corpora)."""
    line_rows: bool = False
    """Text only: one row per line (a molecule, a sentence), framed by line breaks and padded with them to
    ``context_length + 1`` tokens, for models of whole sequences (the SMILES VAE); longer lines are dropped."""
    classes: tuple[NonNegativeInt, ...] | None = None
    """Labelled images only: keep these classes in every split (the splits are drawn before, so they nest)."""
    train_fraction: UnitInterval = 1.0
    """Keep this leading fraction of the training split (few-shot and transfer experiments)."""
    label_column: str | None = None
    """Tables only: a column kept apart as each row's label (e.g. normal/anomalous), not a model input."""
    columns: tuple[str, ...] | None = None
    """Tables only: the feature columns (default: all but the label column)."""
    categorical_columns: tuple[str, ...] | None = None
    """Tables only: columns to one-hot encode (default: the non-numeric ones)."""
    missing_values: str = "error"
    """Tables only: ``error`` refuses NaN; ``indicator`` models where values are missing (a "missing" flag per
    numeric column with NaNs, a "<missing>" category for categorical ones), so samples reproduce the rate."""
    streaming: str = "auto"
    """Image folders, ``.npy`` files and packed directories: ``on`` reads each batch's images when it is needed
    (DataLoader workers decode them), ``off`` loads everything as one float32 tensor, ``auto`` streams when that
    tensor would take more than 2 GB or a quarter of the free memory. Both give the same splits and batches."""
    skip_corrupt: bool = False
    """Streaming only: leave out (and count) images or shards that cannot be read, instead of stopping at the
    first one with its name."""

    def __post_init__(self) -> None:
        check_fields(self)
        fractions = (self.validation_fraction, self.test_fraction)
        if any(not 0 <= fraction < 1 for fraction in fractions) or sum(fractions) >= 1:
            raise DataError(
                f"validation_fraction and test_fraction must be in [0, 1) and sum to less than 1, got {fractions}"
            )
        if self.channels not in (None, 1, 3):
            raise DataError(f"channels must be 1 or 3, got {self.channels}")
        if self.streaming not in ("auto", "on", "off"):
            raise DataError(f"streaming must be auto, on or off, got {self.streaming!r}")
        if not 0 < self.train_fraction <= 1:
            raise DataError(f"train_fraction must be in (0, 1], got {self.train_fraction}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> DataSpec:
        try:
            return dataclass_from_dict(cls, values)
        except (TypeError, ValueError) as error:
            if isinstance(error, GenmodelsError):
                raise
            raise DataError(str(error)) from None


@dataclass
class ImageSplit:
    """Images as float32 ``(N, C, H, W)`` in [0, 1], with int64 labels ``(N,)`` where known.

    Streamed data holds a :class:`~genmodels.data.streaming.StreamingColumn` as ``images``: indexed
    like the tensor, it reads the rows asked for.
    """

    images: torch.Tensor | StreamingColumn
    labels: torch.Tensor | None

    def __len__(self) -> int:
        return len(self.images)

    def tensors(self) -> dict[str, torch.Tensor]:
        """The batch format models consume: ``{"x": images}`` plus ``{"y": labels}``."""
        columns = {"x": self.images}
        if self.labels is not None:
            columns["y"] = self.labels
        return columns


@dataclass
class DataSplits:
    train: ImageSplit
    """An ``ImageSplit``, or for text a :class:`genmodels.data.text.TextSplit` (same ``tensors()`` call)."""
    validation: ImageSplit
    test: ImageSplit
    info: dict[str, Any]
    """Provenance, JSON-ready: spec, source, sha256, sizes, data_shape, binarized, classes; ``kind`` for text."""
    tokenizer: Any = None
    """Text only: the :class:`genmodels.data.tokenizers.Tokenizer` trained on the training split."""
    preprocessor: Any = None
    """Tables only: the :class:`genmodels.data.tabular.TabularPreprocessor` fitted on the training split."""

    @property
    def data_shape(self) -> tuple[int, ...]:
        return tuple(self.info["data_shape"])

    @property
    def is_text(self) -> bool:
        return self.info.get("kind") == "text"

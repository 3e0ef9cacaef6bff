"""From a :class:`DataSpec` to seeded train/validation/test splits with their provenance."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from genmodels.data import builtin as _builtin  # noqa: F401  (registers the built-in data sets)
from genmodels.data import synthetic as _synthetic  # noqa: F401  (registers the 2-D test beds)
from genmodels.data.readers import as_float_images, read_array_file, read_idx_directory, read_image_folder
from genmodels.data.registry import DATASETS
from genmodels.data.spec import DataSpec, DataSplits, ImageSplit
from genmodels.data.streaming import AUTO_STREAMING_BYTES, PACK_INFO, StreamingColumn, open_source, streamable
from genmodels.data.tabular import is_table, load_tabular_data
from genmodels.data.text import TEXT_DATASETS, is_text, load_text_data
from genmodels.data.tokenizers import Tokenizer
from genmodels.errors import DataError
from genmodels.io.memory import available_memory

# ITU-R BT.601 luma weights, for converting colour to grey.
LUMA = torch.tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
SPLIT_NAMES = ("train", "validation", "test")


def load_data(spec: DataSpec | str, base_tokenizer: Tokenizer | None = None) -> DataSplits:
    """Load, prepare and split a data set; the same spec always gives the same tensors.

    ``base_tokenizer``: text for fine-tuning, tokenized with the base model's vocabulary.
    """
    spec = DataSpec(name=spec) if isinstance(spec, str) else spec
    if is_text(spec):
        return load_text_data(spec, base_tokenizer)
    if is_table(spec):
        return load_tabular_data(spec)
    if _streams(spec):
        return _load_streaming(spec)
    images, labels, source, class_names = _read_source(spec)
    content_hash = _content_hash(images, labels)
    if spec.name in DATASETS and DATASETS[spec.name].vectors:
        images = torch.from_numpy(np.asarray(images, dtype=np.float32))
    else:
        images = _convert(torch.from_numpy(as_float_images(np.asarray(images), source)), spec)
    labels_tensor = torch.from_numpy(np.asarray(labels).astype(np.int64)) if labels is not None else None
    if labels_tensor is not None and len(labels_tensor) != len(images):
        raise DataError(f"{source}: {len(images)} images but {len(labels_tensor)} labels")
    splits = _split(images, labels_tensor, spec, source)
    if spec.binarize:
        splits = [_binarize(split, spec.split_seed * 3 + index) for index, split in enumerate(splits)]
    splits = _select(splits, spec, source)
    info: dict[str, Any] = {
        "spec": spec.to_dict(),
        "source": source,
        "sha256": content_hash,
        "sizes": {name: len(split) for name, split in zip(SPLIT_NAMES, splits, strict=False)},
        "data_shape": list(images.shape[1:]),
        "binarized": spec.binarize,
        "num_classes": int(labels_tensor.max()) + 1 if labels_tensor is not None else None,
        "classes_kept": list(spec.classes) if spec.classes is not None else None,
        "class_names": class_names or _numbered_classes(labels_tensor),
    }
    return DataSplits(*splits, info=info)


def _streams(spec: DataSpec) -> bool:
    """Whether ``spec`` is read batch by batch: asked for, a packed directory, or too large for memory (``auto``)."""
    if spec.name in DATASETS or not streamable(spec.name):
        if spec.streaming == "on":
            raise DataError(f"{spec.name}: streaming reads an image folder, a .npy file or a packed directory")
        return False
    packed = (Path(spec.name).expanduser() / PACK_INFO).is_file()
    if spec.streaming == "off" and packed:
        raise DataError(f"{spec.name}: a packed directory is always streamed; leave streaming at auto or on")
    if spec.streaming != "auto" or packed:
        return spec.streaming != "off"
    limit = AUTO_STREAMING_BYTES
    free = available_memory()
    if free is not None:
        limit = min(limit, free // 4)
    return _estimated_float_bytes(Path(spec.name).expanduser(), spec) > limit


def _estimated_float_bytes(path: Path, spec: DataSpec) -> int:
    """The float32 tensor's size from one file's header: an array's shape, or one image times the file count."""
    if path.is_file():
        try:
            array = np.load(path, mmap_mode="r", allow_pickle=False)
        except (ValueError, OSError):
            return 0  # unreadable: the in-memory reader names the problem
        return array.size * 4
    from genmodels.data.readers import IMAGE_SUFFIXES

    files = [child for child in path.rglob("*") if child.suffix.lower() in IMAGE_SUFFIXES]
    if not files:
        return 0
    try:
        from PIL import Image

        with Image.open(files[0]) as picture:
            width, height = (spec.image_size,) * 2 if spec.image_size else picture.size
            channels = spec.channels or len(picture.getbands())
    except OSError:
        return 0
    return len(files) * width * height * channels * 4


def _load_streaming(spec: DataSpec) -> DataSplits:
    """Splits of row indices over a source read on demand: the same splits and order as :func:`load_data`'s tensors."""
    if spec.binarize:
        raise DataError(f"{spec.name}: binarize draws every pixel at once; set binarize false or streaming off")
    source = open_source(spec.name, spec.channels, spec.image_size, spec.skip_corrupt)
    size = len(source)
    labels = torch.from_numpy(source.labels.astype(np.int64)) if source.labels is not None else None
    convert = functools.partial(_convert, spec=spec)
    splits = []
    for positions in split_positions(size, spec, source.source):
        column = StreamingColumn(source, positions, convert)
        splits.append(ImageSplit(column, labels[positions] if labels is not None else None))
    splits = _select(splits, spec, source.source)
    info: dict[str, Any] = {
        "spec": spec.to_dict(),
        "source": source.source,
        "sha256": source.fingerprint(),
        "sizes": {name: len(split) for name, split in zip(SPLIT_NAMES, splits, strict=False)},
        "data_shape": list(splits[0].images.shape[1:]),
        "binarized": False,
        "num_classes": int(labels.max()) + 1 if labels is not None else None,
        "classes_kept": list(spec.classes) if spec.classes is not None else None,
        "class_names": source.class_names or _numbered_classes(labels),
        "streaming": True,
        "skipped_shards": getattr(source, "skipped_shards", []),
    }
    return DataSplits(*splits, info=info)


def _read_source(spec: DataSpec) -> tuple[np.ndarray, np.ndarray | None, str, list[str] | None]:
    if spec.name in DATASETS:
        images, labels = DATASETS[spec.name].load()
        return images, labels, spec.name, None
    path = Path(spec.name).expanduser()
    if not path.exists():
        raise DataError(
            f"{spec.name!r} is neither a built-in data set ({', '.join(sorted(DATASETS))}) nor an existing path"
        )
    source = str(path.resolve())
    if path.is_file():
        if path.suffix not in (".npy", ".npz"):
            raise DataError(f"{path}: expected a .npy or .npz file, a folder of images, or a folder of IDX files")
        images, labels = read_array_file(path)
        return images, labels, source, None
    if any("idx3-ubyte" in child.name for child in path.iterdir()):
        (images, labels), _ = read_idx_directory(path)
        return images, labels, source, None
    images, labels, class_names, _ = read_image_folder(path, spec.channels, spec.image_size)
    return images, labels, source, class_names


def _content_hash(images: np.ndarray, labels: np.ndarray | None) -> str:
    """SHA-256 of the raw images and labels as read: identifies the data whatever its source."""
    digest = hashlib.sha256(np.ascontiguousarray(images).tobytes())
    if labels is not None:
        digest.update(np.ascontiguousarray(labels).tobytes())
    return digest.hexdigest()


def _numbered_classes(labels: torch.Tensor | None) -> list[str] | None:
    return [str(label) for label in range(int(labels.max()) + 1)] if labels is not None else None


def _convert(images: torch.Tensor, spec: DataSpec) -> torch.Tensor:
    """Apply the spec's channel count and size (antialiased bilinear resize)."""
    if spec.channels == 3 and images.shape[1] == 1:
        images = images.repeat(1, 3, 1, 1)
    elif spec.channels == 1 and images.shape[1] == 3:
        images = (images * LUMA).sum(1, keepdim=True)
    if spec.image_size is not None and images.shape[-2:] != (spec.image_size, spec.image_size):
        size = (spec.image_size, spec.image_size)
        images = F.interpolate(images, size=size, mode="bilinear", antialias=True, align_corners=False)
    return images.clamp(0.0, 1.0).contiguous()


def _split(images: torch.Tensor, labels: torch.Tensor | None, spec: DataSpec, source: str) -> list[ImageSplit]:
    return [
        ImageSplit(images[indices], labels[indices] if labels is not None else None)
        for indices in split_positions(len(images), spec, source)
    ]


def split_positions(size: int, spec: DataSpec, source: str) -> list[torch.Tensor]:
    """Row indices of train, validation and test: one seeded permutation, test first, then validation, the rest."""
    order = torch.randperm(size, generator=torch.Generator().manual_seed(spec.split_seed))
    n_test, n_validation = round(size * spec.test_fraction), round(size * spec.validation_fraction)
    bounds = {
        "test": (0, n_test),
        "validation": (n_test, n_test + n_validation),
        "train": (n_test + n_validation, size),
    }
    positions = []
    for name in SPLIT_NAMES:
        start, stop = bounds[name]
        if stop <= start and (name == "train" or getattr(spec, f"{name}_fraction") > 0):
            raise DataError(f"{source}: {size} images are too few for a non-empty {name} split")
        positions.append(order[start:stop])
    return positions


def _select(splits: list[ImageSplit], spec: DataSpec, source: str) -> list[ImageSplit]:
    """Keep ``spec.classes`` and the leading ``spec.train_fraction`` of training, after splitting and binarizing.

    Selecting last keeps every image, split and binarized pixel the same as in the full data set.
    """
    if spec.classes is not None:
        if splits[0].labels is None:
            raise DataError(f"{source} has no labels, so classes {list(spec.classes)} cannot be selected")
        wanted = torch.tensor(spec.classes)
        splits = [
            ImageSplit(_rows(s.images, keep), s.labels[keep]) for s in splits for keep in [torch.isin(s.labels, wanted)]
        ]
    if spec.train_fraction < 1:
        train = splits[0]
        kept = max(1, round(len(train) * spec.train_fraction))
        first = torch.arange(kept)
        splits[0] = ImageSplit(_rows(train.images, first), train.labels[:kept] if train.labels is not None else None)
    if len(splits[0]) == 0:
        raise DataError(f"{source}: no training images are left after selecting classes {spec.classes}")
    return splits


def _rows(images: torch.Tensor | StreamingColumn, keep: torch.Tensor) -> torch.Tensor | StreamingColumn:
    return images.subset(keep) if isinstance(images, StreamingColumn) else images[keep]


def _binarize(split: ImageSplit, seed: int) -> ImageSplit:
    generator = torch.Generator().manual_seed(seed)
    return ImageSplit(torch.bernoulli(split.images, generator=generator), split.labels)


def list_datasets() -> dict[str, str]:
    """Every built-in data set (images, 2-D points, text) with its description."""
    descriptions = {name: dataset.description for name, dataset in DATASETS.items()}
    descriptions.update({name: description for name, (description, _) in TEXT_DATASETS.items()})
    return dict(sorted(descriptions.items()))

"""Readers for a user's own data: image folders, NumPy arrays and MNIST-format IDX files.

Each reader returns raw images and labels; :func:`as_float_images` then checks dtype, range and
layout. Every error names the file and says what was expected.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
from PIL import Image, UnidentifiedImageError

from genmodels.data.registry import RawData
from genmodels.errors import DataError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp"}
IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def as_float_images(array: np.ndarray, source: str) -> np.ndarray:
    """Any supported array as float32 ``(N, C, H, W)`` in [0, 1]."""
    if array.dtype == bool:
        array = array.astype(np.float32)
    elif array.dtype.kind in "iu":
        if array.size and (array.min() < 0 or array.max() > 255):
            raise DataError(f"{source}: integer pixels must lie in 0..255, found {array.min()}..{array.max()}")
        array = array.astype(np.float32) / 255.0
    elif array.dtype.kind == "f":
        if not np.isfinite(array).all():
            raise DataError(f"{source}: contains NaN or infinite values")
        if array.size and (array.min() < 0 or array.max() > 1):
            raise DataError(
                f"{source}: float pixels must lie in [0, 1], found {array.min():g}..{array.max():g}; "
                "scale them, or save uint8 values 0..255"
            )
        array = array.astype(np.float32)
    else:
        raise DataError(f"{source}: unsupported dtype {array.dtype}; use uint8, bool or float in [0, 1]")
    if array.ndim == 0 or array.shape[0] == 0:
        raise DataError(f"{source}: holds no images")
    if array.ndim == 3:
        return array[:, None]
    if array.ndim == 4:
        if array.shape[1] in (1, 3):
            return array
        if array.shape[3] in (1, 3):
            return array.transpose(0, 3, 1, 2)
    raise DataError(
        f"{source}: images of shape {array.shape} are not understood; expected (N, H, W), "
        "(N, C, H, W) or (N, H, W, C) with C = 1 or 3"
    )


def read_array_file(path: Path) -> RawData:
    """A ``.npy`` array of images, or a ``.npz`` with ``images``/``x`` and optional ``labels``/``y``."""
    try:
        loaded = np.load(path, allow_pickle=False)
    except (ValueError, OSError) as error:
        raise DataError(f"{path}: not a readable NumPy file without pickled objects ({error})") from None
    if path.suffix == ".npy":
        return loaded, None
    with loaded:
        keys = list(loaded.keys())
        image_key = next((key for key in ("images", "x") if key in keys), keys[0] if len(keys) == 1 else None)
        if image_key is None:
            raise DataError(f"{path}: found arrays {keys}; name the images 'images' or 'x'")
        label_key = next((key for key in ("labels", "y") if key in keys), None)
        images = loaded[image_key]
        labels = loaded[label_key] if label_key else None
    if labels is not None and len(labels) != len(images):
        raise DataError(f"{path}: {len(images)} images but {len(labels)} labels")
    return images, labels


def read_image_folder(
    folder: Path, channels: int | None, image_size: int | None
) -> tuple[np.ndarray, np.ndarray | None, list[str] | None, list[Path]]:
    """Images found recursively, sorted; immediate subfolders are classes (the ImageFolder convention).

    Returns uint8 images ``(N, H, W, C)``, labels or None, class names or None, and the files read.
    """
    files = sorted(path for path in folder.rglob("*") if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file())
    if not files:
        raise DataError(f"{folder}: no image files ({', '.join(sorted(IMAGE_SUFFIXES))}) found")
    pictures = []
    for path in files:
        try:
            with Image.open(path) as picture:
                picture.load()
                pictures.append(picture.copy())
        except (UnidentifiedImageError, OSError) as error:
            raise DataError(f"{path}: not a readable image ({error})") from None
    if channels is None:
        channels = 1 if all(picture.mode in ("1", "L", "I", "I;16", "F") for picture in pictures) else 3
    mode = "L" if channels == 1 else "RGB"
    pictures = [picture.convert(mode) for picture in pictures]
    if image_size is not None:
        # LANCZOS: the standard anti-aliased filter for downsizing photographs and scans.
        pictures = [picture.resize((image_size, image_size), Image.Resampling.LANCZOS) for picture in pictures]
    sizes = {picture.size for picture in pictures}
    if len(sizes) > 1:
        first = files[0]
        odd = next(path for path, picture in zip(files, pictures, strict=False) if picture.size != pictures[0].size)
        raise DataError(
            f"{folder}: images have different sizes ({first.name} is {pictures[0].size}, "
            f"{odd.name} is {pictures[files.index(odd)].size}); set image_size to resize them"
        )
    images = np.stack([np.asarray(picture).reshape(picture.size[1], picture.size[0], channels) for picture in pictures])
    class_names = sorted(
        {path.relative_to(folder).parts[0] for path in files if len(path.relative_to(folder).parts) > 1}
    )
    if class_names and all(len(path.relative_to(folder).parts) > 1 for path in files):
        labels = np.array([class_names.index(path.relative_to(folder).parts[0]) for path in files], dtype=np.int64)
        return images, labels, class_names, files
    return images, None, None, files


def read_idx_directory(folder: Path) -> tuple[RawData, list[Path]]:
    """All ``*-images-idx3-ubyte[.gz]`` files of a directory with their ``*-labels-idx1-ubyte`` partners."""
    image_files = sorted(path for path in folder.iterdir() if "images" in path.name and "idx3-ubyte" in path.name)
    if not image_files:
        raise DataError(f"{folder}: no MNIST-format image files (*-images-idx3-ubyte[.gz]) found")
    images, labels, read = [], [], []
    for image_file in image_files:
        images.append(read_idx(image_file, expected_dims=3))
        label_file = image_file.with_name(image_file.name.replace("images", "labels").replace("idx3", "idx1"))
        read.append(image_file)
        if label_file.exists():
            file_labels = read_idx(label_file, expected_dims=1)
            if len(file_labels) != len(images[-1]):
                raise DataError(
                    f"{label_file}: {len(file_labels)} labels for {len(images[-1])} images in {image_file.name}"
                )
            labels.append(file_labels.astype(np.int64))
            read.append(label_file)
    all_labels = np.concatenate(labels) if len(labels) == len(images) else None
    return (np.concatenate(images), all_labels), read


def read_idx(path: Path, expected_dims: int) -> np.ndarray:
    """Parse one IDX file (LeCun's MNIST format): magic 0x0000TTDD, DD big-endian int32 sizes, data."""
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as stream:
            content = stream.read()
    except (OSError, EOFError) as error:
        raise DataError(f"{path}: cannot be read ({error})") from None
    if len(content) < 4 or content[0] != 0 or content[1] != 0 or content[2] not in IDX_DTYPES:
        raise DataError(f"{path}: not an IDX file (bad magic number {content[:4].hex()})")
    dims = content[3]
    if dims != expected_dims:
        raise DataError(f"{path}: has {dims} dimensions, expected {expected_dims}")
    header_size = 4 + 4 * dims
    if len(content) < header_size:
        raise DataError(f"{path}: truncated header")
    shape = tuple(int(size) for size in np.frombuffer(content, dtype=">i4", count=dims, offset=4))
    dtype = np.dtype(IDX_DTYPES[content[2]])
    expected_bytes = int(np.prod(shape)) * dtype.itemsize
    if len(content) - header_size != expected_bytes:
        raise DataError(
            f"{path}: truncated or padded: the header promises {expected_bytes} bytes of data for shape {shape}, "
            f"found {len(content) - header_size}"
        )
    return np.frombuffer(content, dtype=dtype, offset=header_size).reshape(shape).copy()

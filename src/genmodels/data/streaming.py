"""Images read when a batch needs them: image folders, memory-mapped ``.npy`` files and packed Arrow shards.

A source hands out raw rows (uint8 as stored, or the array's own dtype) by index; a
:class:`StreamingColumn` is one split's rows of a source and turns a batch of raw rows into
float32 ``(batch, C, H, W)`` with the same functions the in-memory path uses, so a streamed
batch holds exactly the values the in-memory tensor holds at those rows. Rows stay uint8 until
the batch is built, so DataLoader workers move a quarter of the bytes.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from genmodels.data.readers import IMAGE_SUFFIXES, as_float_images
from genmodels.errors import DataError
from genmodels.extras import require_extra

PACK_INFO = "genmodels_pack.json"
"""Written by ``genmodels data pack`` beside the Arrow shards: what the rows are and where they came from."""
AUTO_STREAMING_BYTES = 2 * 1024**3
"""``streaming="auto"`` streams data whose float32 tensor would exceed this (or a quarter of the free memory)."""


class ImageSource:
    """Raw rows by index, their labels, and a name for messages; subclasses read one kind of storage."""

    source: str
    labels: np.ndarray | None
    class_names: list[str] | None
    skip_corrupt: bool = False

    def __len__(self) -> int:
        raise NotImplementedError

    def read_rows(self, indices: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """Raw rows ``(n, ...)`` for ``indices`` and a boolean mask of the rows actually read.

        A corrupt row raises :class:`DataError` naming its file, or with ``skip_corrupt`` is left
        out (its mask entry False) and counted by the caller.
        """
        raise NotImplementedError

    def fingerprint(self) -> str:
        """A SHA-256 that changes when the stored rows change, cheap enough for a million files."""
        raise NotImplementedError


class ImageFolderSource(ImageSource):
    """A folder of image files (subfolders are classes), decoded one file at a time."""

    def __init__(self, folder: Path, channels: int | None, image_size: int | None, skip_corrupt: bool) -> None:
        files = sorted(path for path in folder.rglob("*") if path.suffix.lower() in IMAGE_SUFFIXES and path.is_file())
        if not files:
            raise DataError(f"{folder}: no image files ({', '.join(sorted(IMAGE_SUFFIXES))}) found")
        self.folder, self.skip_corrupt = folder, skip_corrupt
        self.source = str(folder.resolve())
        self.channels, self.size = self._scan_headers(files, channels, image_size)
        # one bytes array, not a list of objects: reading a name in a forked worker touches no reference
        # count, so the workers share the listing with the main process instead of each copying it
        self.paths = np.array([os.fsencode(path) for path in files])
        self.resize = image_size is not None
        parts = [path.relative_to(folder).parts for path in files]
        self.class_names = sorted({part[0] for part in parts if len(part) > 1}) or None
        if self.class_names and all(len(part) > 1 for part in parts):
            index = {name: label for label, name in enumerate(self.class_names)}
            self.labels = np.array([index[part[0]] for part in parts], dtype=np.int64)
        else:
            self.labels, self.class_names = None, None

    def _scan_headers(
        self, files: list[Path], channels: int | None, image_size: int | None
    ) -> tuple[int, tuple[int, int]]:
        """Channels and size as the in-memory reader decides them, from the headers alone (no pixels decoded)."""
        if channels is not None and image_size is not None:
            return channels, (image_size, image_size)
        modes, sizes = set(), {}
        for path in files:
            try:
                with Image.open(path) as picture:
                    modes.add(picture.mode)
                    sizes.setdefault(picture.size, path)
            except (UnidentifiedImageError, OSError) as error:
                if not self.skip_corrupt:
                    raise DataError(f"{path}: not a readable image ({error})") from None
        if channels is None:
            channels = 1 if modes <= {"1", "L", "I", "I;16", "F"} else 3
        if image_size is not None:
            return channels, (image_size, image_size)
        if len(sizes) > 1:
            (first_size, first), (odd_size, odd) = list(sizes.items())[:2]
            raise DataError(
                f"{self.folder}: images have different sizes ({first.name} is {first_size}, {odd.name} is "
                f"{odd_size}); set image_size to resize them"
            )
        return channels, next(iter(sizes))

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def raw_shape(self) -> tuple[int, ...]:
        return (self.size[1], self.size[0], self.channels)

    def read_rows(self, indices: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        rows = np.zeros((len(indices), *self.raw_shape), dtype=np.uint8)
        read = np.ones(len(indices), dtype=bool)
        for position, index in enumerate(indices):
            try:
                rows[position] = self._decode(Path(os.fsdecode(self.paths[index])))
            except DataError:
                if not self.skip_corrupt:
                    raise
                read[position] = False
        return rows, read

    def _decode(self, path: Path) -> np.ndarray:
        """One file as uint8 ``(H, W, C)``, converted and resized exactly as :func:`read_image_folder` does."""
        try:
            with Image.open(path) as picture:
                picture.load()
                picture = picture.convert("L" if self.channels == 1 else "RGB")
        except (UnidentifiedImageError, OSError) as error:
            raise DataError(f"{path}: not a readable image ({error})") from None
        if picture.size != self.size:
            if not self.resize:
                raise DataError(f"{path}: is {picture.size}, the other images {self.size}; set image_size")
            # LANCZOS: the standard anti-aliased filter for downsizing photographs and scans.
            picture = picture.resize(self.size, Image.Resampling.LANCZOS)
        return np.asarray(picture).reshape(self.raw_shape)

    def fingerprint(self) -> str:
        digest = hashlib.sha256()
        for name in self.paths:
            stat = os.stat(name)
            digest.update(name + f"\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
        return digest.hexdigest()


class ArrayFileSource(ImageSource):
    """A ``.npy`` array read through a memory map: only the rows of a batch are paged in."""

    def __init__(self, path: Path) -> None:
        try:
            self.array = np.load(path, mmap_mode="r", allow_pickle=False)
        except (ValueError, OSError) as error:
            raise DataError(f"{path}: not a readable NumPy file without pickled objects ({error})") from None
        if self.array.ndim not in (3, 4) or len(self.array) == 0:
            raise DataError(f"{path}: images of shape {self.array.shape} are not understood; expected (N, H, W, ...)")
        self.path, self.source = path, str(path.resolve())
        self.labels, self.class_names = None, None

    def __len__(self) -> int:
        return len(self.array)

    def read_rows(self, indices: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        order = np.argsort(indices)  # ascending reads page the file in order
        rows = np.empty((len(indices), *self.array.shape[1:]), dtype=self.array.dtype)
        rows[order] = self.array[np.asarray(indices)[order]]
        return rows, np.ones(len(indices), dtype=bool)

    def fingerprint(self) -> str:
        stat = self.path.stat()
        return hashlib.sha256(f"{self.source}\0{stat.st_size}\0{stat.st_mtime_ns}".encode()).hexdigest()


class PackedSource(ImageSource):
    """A directory written by ``genmodels data pack``: Hugging Face ``datasets`` Arrow shards, memory-mapped."""

    def __init__(self, folder: Path, skip_corrupt: bool) -> None:
        self.folder, self.source, self.skip_corrupt = folder, str(folder.resolve()), skip_corrupt
        self.info = json.loads((folder / PACK_INFO).read_text(encoding="utf-8"))
        self.table, self.skipped_shards = open_shards(folder, skip_corrupt)
        self.class_names = self.info.get("class_names")
        self.labels = self.table["label"].to_numpy() if self.info.get("labelled") else None

    def __len__(self) -> int:
        return self.table.num_rows

    def read_rows(self, indices: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        column = self.table["image"].take(np.asarray(indices, dtype=np.int64))
        flat = np.frombuffer(b"".join(column.to_pylist()), dtype=np.uint8)
        return flat.reshape(len(indices), *self.info["raw_shape"]), np.ones(len(indices), dtype=bool)

    def fingerprint(self) -> str:
        return self.info["sha256"]


def open_shards(folder: Path, skip_corrupt: bool) -> tuple[Any, list[str]]:
    """All shards of a packed directory as one memory-mapped pyarrow table, and the shards skipped as corrupt.

    A shard that cannot be read is named; with ``skip_corrupt`` its rows are left out instead.
    """
    require_extra("streaming", "reading a packed data set")
    import pyarrow
    import pyarrow.ipc

    state_file = folder / "state.json"
    try:
        shard_names = [entry["filename"] for entry in json.loads(state_file.read_text(encoding="utf-8"))["_data_files"]]
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise DataError(f"{state_file}: not the state file of a packed data set ({error})") from None
    tables, skipped = [], []
    for name in shard_names:
        try:
            tables.append(pyarrow.ipc.open_stream(pyarrow.memory_map(str(folder / name))).read_all())
        except (OSError, pyarrow.ArrowException) as error:
            if not skip_corrupt:
                raise DataError(f"{folder / name}: a corrupt or truncated shard ({error})") from None
            skipped.append(name)
    if not tables:
        raise DataError(f"{folder}: no readable shards")
    return pyarrow.concat_tables(tables), skipped


def open_source(spec_name: str, channels: int | None, image_size: int | None, skip_corrupt: bool) -> ImageSource:
    """The streaming source for a path: a packed directory, a ``.npy`` file or an image folder."""
    path = Path(spec_name).expanduser()
    if not path.exists():
        raise DataError(f"{spec_name} does not exist")
    if path.is_dir() and (path / PACK_INFO).is_file():
        return PackedSource(path, skip_corrupt)
    if path.is_file() and path.suffix == ".npy":
        return ArrayFileSource(path)
    if path.is_dir():
        return ImageFolderSource(path, channels, image_size, skip_corrupt)
    raise DataError(f"{spec_name}: streaming reads an image folder, a .npy file or a packed directory")


def streamable(spec_name: str) -> bool:
    """Whether the path is a kind of data the streaming path reads."""
    path = Path(spec_name).expanduser()
    is_folder = path.is_dir() and not any("idx3-ubyte" in child.name for child in path.iterdir())
    return is_folder or (path.is_file() and path.suffix == ".npy")


class StreamingColumn:
    """One split's images of a source, read on demand: indexing gives float32 ``(n, C, H, W)`` like a tensor would.

    ``convert`` is the in-memory path's channel and size conversion, applied to each batch.
    """

    def __init__(
        self, source: ImageSource, indices: torch.Tensor, convert: Callable[[torch.Tensor], torch.Tensor]
    ) -> None:
        self.source, self.indices, self.convert = source, indices, convert
        self._item_shape: tuple[int, ...] | None = None

    def __len__(self) -> int:
        return len(self.indices)

    @property
    def shape(self) -> tuple[int, ...]:
        if self._item_shape is None:
            self._item_shape = tuple(self[:1].shape[1:])
        return (len(self), *self._item_shape)

    @property
    def device(self) -> torch.device:
        return torch.device("cpu")

    def read_raw(self, positions: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """Raw rows at these positions of the split and the mask of those read (False: corrupt, skipped)."""
        return self.source.read_rows(self.indices[positions].tolist())

    def to_float(self, raw: np.ndarray | torch.Tensor) -> torch.Tensor:
        """A batch of raw rows as float32 ``(n, C, H, W)`` in [0, 1] (in the main process)."""
        raw = raw.numpy() if isinstance(raw, torch.Tensor) else raw
        return self.convert(torch.from_numpy(as_float_images(np.ascontiguousarray(raw), self.source.source)))

    def __getitem__(self, key: int | slice | torch.Tensor | Sequence[int]) -> torch.Tensor:
        if isinstance(key, int):
            return self[torch.tensor([key])][0]
        positions = torch.arange(len(self))[key] if isinstance(key, slice) else torch.as_tensor(key)
        raw, read = self.read_raw(positions)
        return self.to_float(raw[read])

    def split(self, size: int) -> Iterator[torch.Tensor]:
        """Consecutive chunks of ``size`` images, each read when asked for (like ``Tensor.split``)."""
        for start in range(0, len(self), size):
            yield self[start : start + size]

    def subset(self, keep: torch.Tensor) -> StreamingColumn:
        """The rows where ``keep`` (a boolean mask or positions) selects, still read on demand."""
        return StreamingColumn(self.source, self.indices[keep], self.convert)

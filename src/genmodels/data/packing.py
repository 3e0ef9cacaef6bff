"""``genmodels data pack``: an image collection as sharded, indexed Arrow files (Hugging Face ``datasets`` format).

Each row holds one image's raw uint8 pixels (as the streaming reader decodes them) and its label.
The directory is what ``datasets.Dataset.save_to_disk`` writes (``data-*.arrow``, ``state.json``,
``dataset_info.json``), so ``datasets.load_from_disk`` opens it too; genmodels reads the shards with
pyarrow memory maps, so a row is located by its index without reading the others.
"""

from __future__ import annotations

import json
import math
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from genmodels.data.streaming import PACK_INFO, open_source
from genmodels.errors import OutputError
from genmodels.extras import require_extra
from genmodels.io.files import write_text_atomic

PACK_VERSION = 1
DEFAULT_SHARD_BYTES = 256 * 1024**2
"""Shards of about this size: large enough for sequential reads, small enough to copy and check one by one."""


def pack_dataset(
    source_name: str,
    output: Path,
    channels: int | None = None,
    image_size: int | None = None,
    shard_bytes: int = DEFAULT_SHARD_BYTES,
    chunk_rows: int = 1024,
) -> dict[str, Any]:
    """Write ``source_name`` (an image folder or ``.npy`` file) as Arrow shards under ``output``; returns the info."""
    require_extra("streaming", "genmodels data pack")
    import datasets

    if output.exists() and any(output.iterdir()):
        raise OutputError(f"{output} already holds files; pack into a new or empty directory")
    source = open_source(source_name, channels, image_size, skip_corrupt=False)
    first, _ = source.read_rows([0])
    row_bytes = first[0].nbytes
    features = datasets.Features({"image": datasets.Value("binary"), "label": datasets.Value("int64")})
    num_shards = max(1, math.ceil(len(source) * row_bytes / shard_bytes))
    with tempfile.TemporaryDirectory(prefix="genmodels-pack-") as cache:
        # plain settings, not the source: datasets fingerprints its arguments by serializing them
        settings = dict(source_name=source_name, channels=channels, image_size=image_size, chunk_rows=chunk_rows)
        table = datasets.Dataset.from_generator(_rows, gen_kwargs=settings, features=features, cache_dir=cache)
        table.save_to_disk(str(output), num_shards=min(num_shards, len(source)))
        del table
    info = {
        "version": PACK_VERSION,
        "source": source.source,
        "rows": len(source),
        "raw_shape": list(first.shape[1:]),
        "dtype": str(first.dtype),
        "labelled": source.labels is not None,
        "class_names": source.class_names,
        "sha256": source.fingerprint(),
    }
    write_text_atomic(output / PACK_INFO, json.dumps(info, indent=2) + "\n")
    return info


def _rows(source_name: str, channels: int | None, image_size: int | None, chunk_rows: int) -> Iterator[dict[str, Any]]:
    source = open_source(source_name, channels, image_size, skip_corrupt=False)
    for start in range(0, len(source), chunk_rows):
        indices = list(range(start, min(start + chunk_rows, len(source))))
        rows, _ = source.read_rows(indices)
        for index, row in zip(indices, rows, strict=True):
            label = int(source.labels[index]) if source.labels is not None else -1
            yield {"image": row.tobytes(), "label": label}


def remove_pack(output: Path) -> None:
    """Remove a partly written pack (after an error), so the next attempt starts from an empty directory."""
    shutil.rmtree(output, ignore_errors=True)

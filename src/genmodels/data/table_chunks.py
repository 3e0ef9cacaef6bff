"""Rows of a CSV, Parquet or ``.npy`` file in chunks of a fixed size, for work whose memory must not grow with the file.

Chunk ``k`` always holds rows ``k * chunk_rows`` to ``(k + 1) * chunk_rows - 1``, however the file is
stored (Parquet row groups are cut and joined), so a job can count its chunks and continue at one.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from genmodels.data.tabular import TABLE_SUFFIXES
from genmodels.errors import DataError

COUNT_BLOCK_BYTES = 1 << 24


def row_chunks(path: Path, chunk_rows: int) -> Iterator[pd.DataFrame | np.ndarray]:
    """Consecutive chunks of ``chunk_rows`` rows (the last may be shorter): data frames, or arrays for ``.npy``."""
    if not path.is_file():
        raise DataError(f"{path} does not exist")
    if path.suffix == ".npy":
        yield from _array_chunks(path, chunk_rows)
    elif path.suffix == ".csv":
        yield from _csv_chunks(path, chunk_rows)
    elif path.suffix in TABLE_SUFFIXES:
        yield from _parquet_chunks(path, chunk_rows)
    else:
        raise DataError(f"{path}: give a .csv/.parquet table or a .npy array")


def count_rows(path: Path) -> int:
    """The number of rows: from the Parquet footer or the ``.npy`` header; for CSV the line breaks less the header
    (a count for a progress bar: quoted line breaks inside a field are counted too)."""
    if path.suffix == ".npy":
        return len(np.load(path, mmap_mode="r", allow_pickle=False))
    if path.suffix == ".csv":
        with path.open("rb") as stream:
            lines = sum(block.count(b"\n") for block in iter(lambda: stream.read(COUNT_BLOCK_BYTES), b""))
        return max(0, lines - 1)
    import pyarrow.parquet as parquet

    return parquet.ParquetFile(str(path)).metadata.num_rows


def _array_chunks(path: Path, chunk_rows: int) -> Iterator[np.ndarray]:
    try:
        array = np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError) as error:
        raise DataError(f"{path} is not a readable .npy array of numbers: {error}") from None
    for start in range(0, len(array), chunk_rows):
        yield np.array(array[start : start + chunk_rows])


def _csv_chunks(path: Path, chunk_rows: int) -> Iterator[pd.DataFrame]:
    try:
        yield from pd.read_csv(path, chunksize=chunk_rows)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as error:
        raise DataError(f"{path} is not a readable table: {error}") from None


def _parquet_chunks(path: Path, chunk_rows: int) -> Iterator[pd.DataFrame]:
    import pyarrow
    import pyarrow.parquet as parquet

    try:
        batches = parquet.ParquetFile(str(path)).iter_batches(batch_size=chunk_rows)
        pending: list = []
        pending_rows = 0
        for batch in batches:
            pending.append(batch)
            pending_rows += batch.num_rows
            while pending_rows >= chunk_rows:
                table = pyarrow.Table.from_batches(pending)
                yield table.slice(0, chunk_rows).to_pandas()
                rest = table.slice(chunk_rows)
                pending, pending_rows = rest.to_batches(), rest.num_rows
        if pending_rows:
            yield pyarrow.Table.from_batches(pending).to_pandas()
    except (pyarrow.ArrowException, OSError) as error:
        raise DataError(f"{path} is not a readable Parquet table: {error}") from None

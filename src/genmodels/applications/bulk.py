"""Scoring and sampling millions of rows with memory bounded by one chunk, resumable after a kill.

Each chunk is computed from its own inputs and seed alone (chunk ``k`` of a sampling job draws from
``Generator().manual_seed(chunk_seed(seed, k))``; a scoring chunk reseeds with the detector's seed),
so the output does not depend on whether the job was interrupted, nor on which process computed a
chunk: :mod:`genmodels.applications.distributed` gives the same rows on a Ray cluster.
Output goes through :class:`~genmodels.io.chunked_output.ChunkedTableOutput`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from genmodels.applications.anomaly.detector import Detector
from genmodels.applications.anomaly.rows import encode_table, row_scores
from genmodels.data.table_chunks import count_rows, row_chunks
from genmodels.errors import ConfigError
from genmodels.io.chunked_output import ChunkedTableOutput
from genmodels.io.progress import PhaseProgress, progress_console
from genmodels.models.base import GenerativeModel

DEFAULT_CHUNK_ROWS = 100_000
SCORE_BATCH_ROWS = 4096
"""Rows per forward pass in bulk scoring: large enough that the per-call overhead stops mattering."""


def chunk_seed(seed: int, chunk: int) -> int:
    """The seed of chunk ``chunk`` of a job seeded with ``seed``: independent streams per chunk."""
    return int(np.random.SeedSequence([seed, chunk]).generate_state(1)[0])


def file_identity(path: Path) -> dict[str, Any]:
    """What tells two versions of an input apart: its path, size and modification time."""
    stat = path.stat()
    return {"path": str(path.resolve()), "bytes": stat.st_size, "modified_ns": stat.st_mtime_ns}


def score_chunk(detector: Detector, chunk: pd.DataFrame | np.ndarray, first_row: int, per_column: bool, source: str):
    """Scores of one chunk of rows (a data frame of the table's columns, or an array), numbered from ``first_row``."""
    if isinstance(chunk, pd.DataFrame):
        x = encode_table(detector.model, chunk, source)
    else:
        x = torch.from_numpy(np.asarray(chunk)).float()
    per_column = per_column and isinstance(chunk, pd.DataFrame)
    return row_scores(detector, x, first_row, per_column=per_column, batch_size=SCORE_BATCH_ROWS)


def score_in_chunks(
    detector: Detector, rows: Path, output: Path, chunk_rows: int = DEFAULT_CHUNK_ROWS, run: str = ""
) -> int:
    """Score the rows of ``rows`` into ``output`` (CSV or Parquet), ``chunk_rows`` at a time; returns the row count.

    The output has ``row``, ``score``, ``flag`` (and ``nll:COLUMN`` for a tabular MADE) but no rank:
    a rank needs every score at once. Run again after a kill to continue.
    """
    _check_chunk_rows(chunk_rows)
    job = {
        "task": "score",
        "run": run,
        "score": detector.score_name,
        "seed": detector.seed,
        "rows": file_identity(rows),
        "chunk_rows": chunk_rows,
    }
    per_column = hasattr(detector.model, "feature_log_probs")
    return _run_chunks(
        output,
        job,
        "scoring",
        count_rows(rows),
        row_chunks(rows, chunk_rows),
        lambda index, chunk: score_chunk(detector, chunk, index * chunk_rows, per_column, str(rows)),
    )


def sample_table_in_chunks(
    model: GenerativeModel,
    n: int,
    output: Path,
    chunk_rows: int = DEFAULT_CHUNK_ROWS,
    seed: int = 0,
    conditions: Mapping[str, Any] | None = None,
    controls: Mapping[str, Any] | None = None,
    run: str = "",
) -> int:
    """``n`` rows of a table model written ``chunk_rows`` at a time; the rows depend on ``seed`` and ``chunk_rows``."""
    _check_chunk_rows(chunk_rows)
    conditions, controls = dict(conditions or {}), dict(controls or {})
    job = {"task": "sample", "run": run, "n": n, "seed": seed, "chunk_rows": chunk_rows,
           "conditions": conditions, "controls": controls}  # fmt: skip
    sizes = (min(chunk_rows, n - start) for start in range(0, n, chunk_rows))

    def sample_chunk(index: int, size: int) -> pd.DataFrame:
        generator = torch.Generator().manual_seed(chunk_seed(seed, index))
        return model.sample_table(size, generator, conditions, **controls)

    return _run_chunks(output, job, "sampling", n, sizes, sample_chunk)


def generate_molecules_in_chunks(
    n: int,
    output: Path,
    chunk_rows: int,
    seed: int,
    sample_chunk: Callable[[int, int], pd.DataFrame],
    settings: Mapping[str, Any],
    run: str = "",
) -> int:
    """``n`` molecules with their properties (``sample_chunk(size, chunk_seed)`` gives one chunk's table)."""
    _check_chunk_rows(chunk_rows)
    job = {"task": "molecules", "run": run, "n": n, "seed": seed, "chunk_rows": chunk_rows, **settings}
    sizes = (min(chunk_rows, n - start) for start in range(0, n, chunk_rows))
    return _run_chunks(
        output, job, "generating", n, sizes, lambda index, size: sample_chunk(size, chunk_seed(seed, index))
    )


def _run_chunks(
    output: Path,
    job: dict[str, Any],
    description: str,
    total_rows: int,
    chunks: Iterator[Any],
    compute: Callable[[int, Any], pd.DataFrame],
) -> int:
    """Compute every chunk not yet in ``output``'s parts, with a progress bar; then join the parts."""
    parts = ChunkedTableOutput(output, job)
    if parts.completed:
        progress_console.print(f"continuing {output}: {len(parts.completed)} chunks are done", highlight=False)
    count = 0
    with PhaseProgress(description, total_rows, "rows", completed=parts.rows_done) as shown:
        for index, chunk in enumerate(chunks):
            count = index + 1
            if parts.is_done(index):
                continue
            frame = compute(index, chunk)
            parts.write(index, frame)
            shown.advance(len(frame))
    return parts.finish(count)


def _check_chunk_rows(chunk_rows: int) -> None:
    if chunk_rows < 1:
        raise ConfigError(f"chunk_rows must be a positive number of rows, got {chunk_rows}")

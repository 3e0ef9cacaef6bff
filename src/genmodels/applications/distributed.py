"""Scoring and sampling on a Ray cluster: ``ray.data`` ``map_batches`` with actors that load a run once.

``Dataset.map_batches(RunScorer, fn_constructor_kwargs={"run": RUN}, concurrency=WORKERS, batch_format="pandas")``
starts ``WORKERS`` actors; each loads the run in its constructor and then scores every batch it is
given, so the model is read once per actor, not once per batch. A row's score depends on the row
alone (the detector reseeds for each batch), and a sampled chunk on its index alone
(:func:`~genmodels.applications.bulk.chunk_seed`), so a cluster gives what one process gives.
:func:`score_with_ray` and :func:`sample_with_ray` build these pipelines for files.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from genmodels.applications.anomaly.detector import Detector
from genmodels.applications.anomaly.rows import encode_table, row_scores
from genmodels.applications.bulk import SCORE_BATCH_ROWS, chunk_seed
from genmodels.errors import ConfigError, DataError
from genmodels.extras import require_extra
from genmodels.models.base import load

BLOCKS_PER_WORKER = 4


class RunScorer:
    """A ``map_batches`` actor: the detector of ``run`` loaded once; each pandas batch gets score and flag columns.

    ``keep_columns`` pass through unchanged (an id, a label), so scored rows can be joined back.
    """

    def __init__(self, run: str, keep_columns: Sequence[str] = ()) -> None:
        self.detector = Detector.load(load(run), run)
        self.run, self.keep_columns = run, list(keep_columns)

    def __call__(self, batch: pd.DataFrame) -> pd.DataFrame:
        missing = [column for column in self.keep_columns if column not in batch.columns]
        if missing:
            raise DataError(f"keep_columns {missing} are not columns of the rows scored with {self.run}")
        x = encode_table(self.detector.model, batch, f"rows scored with {self.run}")
        scores = row_scores(self.detector, x, per_column=True, batch_size=SCORE_BATCH_ROWS).drop(columns="row")
        kept = batch[self.keep_columns].reset_index(drop=True)
        return pd.concat([kept, scores], axis=1)


class RunSampler:
    """A ``map_batches`` actor over chunk numbers (an ``id`` column): each chunk's rows of a table model.

    Chunk ``k`` holds rows ``k * chunk_rows`` onward, drawn with ``chunk_seed(seed, k)``: the rows
    :func:`~genmodels.applications.bulk.sample_table_in_chunks` writes for the same settings.
    """

    def __init__(self, run: str, n: int, chunk_rows: int, seed: int = 0) -> None:
        self.model = load(run)
        if not hasattr(self.model, "sample_table"):
            raise ConfigError(f"{run} is not a table model; RunSampler draws table rows")
        self.n, self.chunk_rows, self.seed = n, chunk_rows, seed

    def __call__(self, batch: dict[str, np.ndarray]) -> pd.DataFrame:
        frames = []
        for chunk in np.asarray(batch["id"]).tolist():
            size = min(self.chunk_rows, self.n - chunk * self.chunk_rows)
            generator = torch.Generator().manual_seed(chunk_seed(self.seed, chunk))
            frame = self.model.sample_table(size, generator)
            frame.insert(0, "row", np.arange(chunk * self.chunk_rows, chunk * self.chunk_rows + size))
            frames.append(frame)
        return pd.concat(frames, ignore_index=True)


def score_with_ray(
    run: str | Path,
    rows: str | Path,
    output: str | Path,
    workers: int = 2,
    batch_rows: int = 100_000,
    keep_columns: Sequence[str] = (),
) -> Path:
    """Score a Parquet or CSV file (or a directory of them) on the connected Ray cluster into Parquet files.

    Returns ``output`` (``ray.init`` first to choose the cluster; a local one starts otherwise).
    Each of the ``workers`` actors holds one CPU; the cluster needs at least one more for reading and
    writing, or the pipeline waits for a CPU that never frees.
    """
    ray_data = _ray_data()
    rows = str(rows)
    dataset = ray_data.read_csv(rows) if rows.endswith(".csv") else ray_data.read_parquet(rows)
    # a single file may be a single block: cut it so that every worker gets some
    dataset = dataset.repartition(workers * BLOCKS_PER_WORKER)
    scored = dataset.map_batches(
        RunScorer,
        fn_constructor_kwargs={"run": str(run), "keep_columns": list(keep_columns)},
        batch_size=batch_rows,
        batch_format="pandas",
        compute=ray_data.ActorPoolStrategy(size=workers),
    )
    scored.write_parquet(str(output))
    return Path(output)


def sample_with_ray(
    run: str | Path, n: int, output: str | Path, workers: int = 2, chunk_rows: int = 100_000, seed: int = 0
) -> Path:
    """``n`` rows of a table model, one chunk per task, on the connected Ray cluster, into Parquet files."""
    ray_data = _ray_data()
    chunks = -(-n // chunk_rows)
    sampled = ray_data.range(chunks, override_num_blocks=chunks).map_batches(
        RunSampler,
        fn_constructor_kwargs={"run": str(run), "n": n, "chunk_rows": chunk_rows, "seed": seed},
        batch_size=1,
        batch_format="numpy",
        compute=ray_data.ActorPoolStrategy(size=workers),
    )
    sampled.write_parquet(str(output))
    return Path(output)


def _ray_data() -> Any:
    require_extra("ray", "distributed scoring and sampling")
    import ray.data

    return ray.data

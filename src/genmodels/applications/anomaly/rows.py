"""New rows in the form a model scores, and the per-row result a detector gives them.

Shared by ``genmodels detect score`` and the HTTP server, so a CSV scores the same either way:
tables are encoded with the ``preprocessor.json`` saved beside the model, arrays come as
``.npy`` ``(n, *data_shape)``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from genmodels.applications.anomaly.detector import Detector
from genmodels.applications.anomaly.scores import column_anomaly_map
from genmodels.data.tabular import TABLE_SUFFIXES, read_table
from genmodels.errors import DataError
from genmodels.models.base import GenerativeModel


def encode_table(model: GenerativeModel, table: pd.DataFrame, source: str) -> torch.Tensor:
    """A table's rows encoded by the model's preprocessor; an error naming ``source`` for a model of no table."""
    preprocessor = getattr(model, "preprocessor", None)
    if preprocessor is None:
        raise DataError(f"{source} is a table but the model was not trained on one (no preprocessor.json)")
    return preprocessor.transform(table)


def read_rows(model: GenerativeModel, path: Path) -> tuple[torch.Tensor, pd.DataFrame | None]:
    """The rows of a table (via the model's preprocessor) or of a .npy array, and the raw table if any."""
    if path.suffix in TABLE_SUFFIXES:
        table = read_table(path)
        return encode_table(model, table, str(path)), table
    if path.suffix == ".npy":
        try:
            return torch.from_numpy(np.load(path, allow_pickle=False)).float(), None
        except (ValueError, OSError) as error:
            raise DataError(f"{path} is not a readable .npy array of numbers: {error}") from None
    raise DataError(f"{path}: give a .csv/.parquet table or a .npy array")


def scored_rows(detector: Detector, x: torch.Tensor, per_column: bool = False) -> pd.DataFrame:
    """Row, score, flag (above the threshold; False for a detector not calibrated) and rank (1 = most anomalous).

    With ``per_column``, a table model with per-column likelihoods (tabular-made) adds each column's
    share of the row's NLL as ``nll:COLUMN``: the largest says which column makes the row unlikely.
    """
    table = row_scores(detector, x, per_column=per_column)
    table.insert(3, "rank", (-table["score"].to_numpy()).argsort(kind="stable").argsort() + 1)
    return table


def row_scores(
    detector: Detector, x: torch.Tensor, first_row: int = 0, per_column: bool = False, batch_size: int = 250
) -> pd.DataFrame:
    """Row (numbered from ``first_row``), score and flag, and the per-column NLLs where asked: no rank,
    so chunks of a large input can be scored apart. ``batch_size``: rows per forward pass."""
    scores = detector.score(x, batch_size)
    table = pd.DataFrame({"row": np.arange(first_row, first_row + len(scores)), "score": scores, "flag": False})
    if detector.calibration is not None:
        table["flag"] = scores > detector.threshold
    model = detector.model
    if per_column and hasattr(model, "feature_log_probs"):
        columns = [*model.preprocessor.numeric_columns, *model.preprocessor.categorical_columns]
        for name, values in zip(columns, column_anomaly_map(model, x).T.numpy(), strict=True):
            table[f"nll:{name}"] = values
    return table

"""Tables (CSV or Parquet) as model-ready vectors: scaling and one-hot encoding fitted on training rows.

The :class:`TabularPreprocessor` is saved as ``preprocessor.json`` beside the model, so new rows are
encoded exactly as the training rows were. Bad input is refused, never guessed at: a missing
column, a missing value (NaN), text in a numeric column, an infinite number or one float32 cannot
hold, and by default a category never seen in training raise an error that names the column and
the offending rows or values.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from genmodels.data.spec import DataSpec, DataSplits, ImageSplit
from genmodels.errors import ConfigError, DataError
from genmodels.io.dataclass_json import dataclass_from_dict
from genmodels.io.files import write_text_atomic
from genmodels.io.validation import PositiveFloat, check_fields

TABLE_SUFFIXES = (".csv", ".parquet", ".pq")
PREPROCESSOR_FILE = "preprocessor.json"
UNKNOWN_CATEGORY_POLICIES = ("error", "zeros")
FLOAT32_MAX = float(np.finfo(np.float32).max)
MAX_STANDARD_DEVIATIONS = 1e6
"""Numbers further than this from the training mean, in training standard deviations, are refused at scoring:
beyond it a model's float32 likelihood can overflow, and such a value is a data error far more often than not."""


def read_table(path: str | Path) -> pd.DataFrame:
    """A CSV or Parquet file as a data frame, with a clear error for a missing, empty or unreadable file."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path} does not exist")
    try:
        if path.suffix == ".csv":
            frame = pd.read_csv(path)
        else:
            frame = pd.read_parquet(path)
    except ImportError as error:
        raise DataError(f"{path}: reading Parquet needs pyarrow (pip install pyarrow): {error}") from None
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError, OSError) as error:
        raise DataError(f"{path} is not a readable table: {error}") from None
    if frame.empty:
        raise DataError(f"{path} has no rows")
    try:
        for name in frame.columns:
            if pd.api.types.is_numeric_dtype(frame[name]):
                _numbers(frame[name])
    except DataError as error:
        raise DataError(f"{path}: {error}") from None
    return frame


@dataclass
class TabularPreprocessor:
    """Standardise numeric columns (training mean and standard deviation) and one-hot encode categorical ones."""

    numeric_columns: list[str]
    categorical_columns: list[str]
    means: list[float] = field(default_factory=list)
    scales: list[PositiveFloat] = field(default_factory=list)
    categories: dict[str, list[str]] = field(default_factory=dict)
    unknown_categories: str = "error"
    """``error``: refuse categories unseen in training; ``zeros``: encode them as all-zero one-hot rows."""

    @classmethod
    def fit(
        cls,
        frame: pd.DataFrame,
        columns: Sequence[str] | None = None,
        categorical_columns: Sequence[str] | None = None,
        unknown_categories: str = "error",
    ) -> TabularPreprocessor:
        """Columns default to all; categorical ones default to the non-numeric columns."""
        columns = list(columns) if columns is not None else list(frame.columns)
        _require_columns(frame, columns)
        _refuse_missing_values(frame, columns)
        if categorical_columns is None:
            categorical_columns = [name for name in columns if not pd.api.types.is_numeric_dtype(frame[name])]
            for name in categorical_columns:
                _refuse_numbers_with_typos(frame[name])
        categorical = [name for name in columns if name in set(categorical_columns)]
        numeric = [name for name in columns if name not in set(categorical)]
        values = _numeric_values(frame, numeric)
        scales = values.std(0) if len(numeric) else np.zeros(0)
        return cls(
            numeric_columns=numeric,
            categorical_columns=categorical,
            means=values.mean(0).tolist() if len(numeric) else [],
            scales=np.where(scales > 0, scales, 1.0).tolist(),
            categories={name: sorted(frame[name].astype(str).unique().tolist()) for name in categorical},
            unknown_categories=unknown_categories,
        )

    def __post_init__(self) -> None:
        check_fields(self)
        if self.unknown_categories not in UNKNOWN_CATEGORY_POLICIES:
            raise DataError(
                f"unknown_categories must be one of {UNKNOWN_CATEGORY_POLICIES}, got {self.unknown_categories!r}"
            )
        self._check_layout()

    def _check_layout(self) -> None:
        """One mean and one scale per numeric column, one non-empty list of distinct categories per categorical one."""
        numeric = len(self.numeric_columns)
        if len(self.means) != numeric or len(self.scales) != numeric:
            raise ConfigError(
                f"{numeric} numeric column(s) need as many means and scales, got {len(self.means)} means "
                f"and {len(self.scales)} scales"
            )
        if set(self.categories) != set(self.categorical_columns):
            raise ConfigError(
                f"categories must have one entry per categorical column {self.categorical_columns}, "
                f"got {sorted(self.categories)}"
            )
        overlap = set(self.numeric_columns) & set(self.categorical_columns)
        if overlap:
            raise ConfigError(f"column(s) {sorted(overlap)} are listed both as numeric and as categorical")
        for name, known in self.categories.items():
            if not known or len(set(known)) != len(known):
                raise ConfigError(f"categories of column {name!r} must be distinct and at least one, got {known}")

    @property
    def width(self) -> int:
        return len(self.numeric_columns) + sum(len(values) for values in self.categories.values())

    def model_settings(self) -> dict[str, Any]:
        """What a tabular model must know of the encoded layout: numeric features first, then one-hot groups."""
        return {
            "numeric_features": len(self.numeric_columns),
            "categorical_sizes": [len(self.categories[name]) for name in self.categorical_columns],
        }

    def transform(self, frame: pd.DataFrame) -> torch.Tensor:
        """Encoded rows, float32 ``(rows, width)``."""
        _require_columns(frame, [*self.numeric_columns, *self.categorical_columns])
        _refuse_missing_values(frame, [*self.numeric_columns, *self.categorical_columns])
        parts = []
        if self.numeric_columns:
            standardised = (_numeric_values(frame, self.numeric_columns) - np.array(self.means)) / np.array(self.scales)
            _refuse_far_values(frame, self.numeric_columns, standardised)
            parts.append(standardised)
        for name in self.categorical_columns:
            known = self.categories[name]
            column = frame[name].astype(str)
            unseen = sorted(set(column) - set(known))
            if unseen and self.unknown_categories == "error":
                raise DataError(
                    f"column {name!r} has categories never seen in training: {unseen[:5]}; training saw {known[:10]}"
                )
            index = pd.Index(known).get_indexer(column)  # -1 for unseen
            one_hot = np.zeros((len(frame), len(known)))
            seen = index >= 0
            one_hot[np.flatnonzero(seen), index[seen]] = 1.0
            parts.append(one_hot)
        return torch.from_numpy(np.concatenate(parts, axis=1).astype(np.float32))

    def inverse_transform(self, encoded: torch.Tensor) -> pd.DataFrame:
        """Rows back in the original columns: numbers unscaled, each category the largest of its one-hot group."""
        values = encoded.detach().cpu().numpy().astype(np.float64)
        columns: dict[str, Any] = {}
        numeric = len(self.numeric_columns)
        for position, name in enumerate(self.numeric_columns):
            columns[name] = values[:, position] * self.scales[position] + self.means[position]
        start = numeric
        for name in self.categorical_columns:
            known = self.categories[name]
            columns[name] = np.array(known, dtype=object)[values[:, start : start + len(known)].argmax(1)]
            start += len(known)
        return pd.DataFrame(columns)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"

    def save(self, directory: str | Path) -> Path:
        path = Path(directory) / PREPROCESSOR_FILE
        write_text_atomic(path, self.to_json())
        return path

    @classmethod
    def load(cls, directory: str | Path) -> TabularPreprocessor:
        path = Path(directory) / PREPROCESSOR_FILE
        try:
            return dataclass_from_dict(cls, json.loads(path.read_text(encoding="utf-8")))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, ConfigError) as error:
            raise DataError(f"{path} is missing or not a preprocessor genmodels wrote: {error}") from None


def _require_columns(frame: pd.DataFrame, columns: Sequence[str]) -> None:
    missing = [name for name in columns if name not in frame.columns]
    if missing:
        raise DataError(f"the table lacks column(s) {missing}; it has {list(frame.columns)}")


def _numeric_values(frame: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    """The columns as float64 ``(rows, columns)``: text, infinities and numbers float32 cannot hold are refused."""
    return np.stack([_numbers(frame[name]) for name in columns], 1) if columns else np.zeros((len(frame), 0))


def _numbers(column: pd.Series) -> np.ndarray:
    """A numeric column's values; the error names the column and rows (the table's row labels, from 0)."""
    parsed = pd.to_numeric(column, errors="coerce")
    text = parsed.isna().to_numpy() & column.notna().to_numpy()
    if text.any():
        rows = column.index[text][:5].tolist()
        raise DataError(
            f"column {column.name!r} is not numeric: row(s) {rows} hold text {column[text].iloc[:3].tolist()}; "
            "fix or drop those rows, or fit with the column among the categorical ones (text in a numeric "
            "column is never read as a category)"
        )
    values = parsed.to_numpy(np.float64)
    too_large = ~(np.abs(values) <= FLOAT32_MAX) & ~np.isnan(values)
    if too_large.any():
        rows = column.index[too_large][:5].tolist()
        raise DataError(
            f"column {column.name!r} row(s) {rows} hold {values[too_large][:3].tolist()}: numbers must be finite "
            f"and within float32's range (+-{FLOAT32_MAX:.3g})"
        )
    return values


def _refuse_numbers_with_typos(column: pd.Series) -> None:
    """A column of numbers with a few text entries is a typo, not a categorical column: refuse it by name."""
    parsed = pd.to_numeric(column, errors="coerce")
    if parsed.notna().mean() >= 0.5:
        text = parsed.isna()
        raise DataError(
            f"column {column.name!r} holds numbers, but row(s) {column.index[text][:5].tolist()} hold text "
            f"{column[text].iloc[:3].tolist()}; fix those rows, or list the column in data.categorical_columns "
            "to treat every value as a category"
        )


def _refuse_far_values(frame: pd.DataFrame, columns: Sequence[str], standardised: np.ndarray) -> None:
    """Refuse numbers so far from the training data that a model's float32 arithmetic would overflow on them."""
    far = np.abs(standardised) > MAX_STANDARD_DEVIATIONS
    if far.any():
        row, position = np.argwhere(far)[0]
        raise DataError(
            f"column {columns[position]!r} row {frame.index[row]!r} holds {frame[columns[position]].iloc[row]}, "
            f"{abs(standardised[row, position]):.3g} training standard deviations from the training mean; "
            f"genmodels scores values up to {MAX_STANDARD_DEVIATIONS:g} of them ({int(far.sum())} value(s) beyond)"
        )


def _refuse_missing_values(frame: pd.DataFrame, columns: Sequence[str]) -> None:
    missing = frame[list(columns)].isna()
    if missing.to_numpy().any():
        counts = {name: int(count) for name, count in missing.sum().items() if count}
        rows = np.flatnonzero(missing.to_numpy().any(1))[:5].tolist()
        raise DataError(
            f"missing values (NaN) in column(s) {counts}, e.g. rows {rows}; fill or drop them first "
            "(genmodels does not impute silently)"
        )


def is_table(spec: DataSpec) -> bool:
    return Path(spec.name).suffix in TABLE_SUFFIXES


def load_tabular_data(spec: DataSpec) -> DataSplits:
    """Seeded random splits of a table's rows; the preprocessor is fitted on the training rows only."""
    frame = read_table(spec.name)
    labels = None
    if spec.label_column is not None:
        _require_columns(frame, [spec.label_column])
        labels_column = frame.pop(spec.label_column)
        codes, classes = pd.factorize(labels_column, sort=True)
        labels = torch.from_numpy(codes.astype(np.int64))
    order = torch.randperm(len(frame), generator=torch.Generator().manual_seed(spec.split_seed)).numpy()
    n_test, n_validation = round(len(frame) * spec.test_fraction), round(len(frame) * spec.validation_fraction)
    if len(frame) - n_test - n_validation < 1:
        raise DataError(f"{spec.name}: {len(frame)} rows are too few for a training split")
    parts = {"test": order[:n_test], "validation": order[n_test : n_test + n_validation]}
    parts["train"] = order[n_test + n_validation :]
    preprocessor = TabularPreprocessor.fit(frame.iloc[parts["train"]], spec.columns, spec.categorical_columns)
    splits = {
        name: ImageSplit(
            preprocessor.transform(frame.iloc[rows]), labels[torch.from_numpy(rows)] if labels is not None else None
        )
        for name, rows in parts.items()
    }
    info = {
        "kind": "tabular",
        "spec": spec.to_dict(),
        "source": str(Path(spec.name).resolve()),
        "sha256": _frame_hash(frame),
        "sizes": {name: len(split) for name, split in splits.items()},
        "data_shape": [preprocessor.width],
        "binarized": False,
        "num_classes": int(labels.max()) + 1 if labels is not None else None,
        "class_names": [str(name) for name in classes] if labels is not None else None,
        "columns": {"numeric": preprocessor.numeric_columns, "categorical": preprocessor.categorical_columns},
    }
    return DataSplits(splits["train"], splits["validation"], splits["test"], info=info, preprocessor=preprocessor)


def _frame_hash(frame: pd.DataFrame) -> str:
    import hashlib

    return hashlib.sha256(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes()).hexdigest()

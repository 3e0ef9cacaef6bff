"""Tables (CSV or Parquet) as model-ready vectors: scaling and one-hot encoding fitted on training rows.

The :class:`TabularPreprocessor` is saved as ``preprocessor.json`` beside the model, so new rows are
encoded exactly as the training rows were, and sampled rows decode back to the original table:
column names and order, dtypes, integers as integers, values clipped to the training range, datetimes
(encoded as seconds since 1970) as datetimes, and numbers to the decimal places the column was recorded
with (see :attr:`TabularPreprocessor.precision`). Bad input is refused, never guessed at: a missing
column, a column with no values, text in a numeric column, an infinite number or one float32 cannot
hold, and by default a missing value (NaN) or a category never seen in training raise an error that
names the column and the offending rows or values.

Missing values, with ``missing_values="indicator"``, are modelled explicitly rather than imputed: a
numeric column with NaNs gains a two-category "is missing" group (its value is encoded as the training
mean where missing), and a categorical column's NaN becomes one more category. A generative model
then learns the missingness rate and how it depends on the other columns, and decoding writes NaN
wherever the sampled indicator (or category) says missing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
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
MISSING_VALUE_POLICIES = ("error", "indicator")
MISSING_CATEGORY = "<missing>"
"""The category that stands for NaN in a categorical column under ``missing_values="indicator"``."""
INDICATOR_CATEGORIES = ["present", "missing"]
CONDITION_TOLERANCE = 0.25
"""A numeric condition accepts sampled values within this many training standard deviations of it."""
FLOAT32_MAX = float(np.finfo(np.float32).max)
MAX_DECIMALS = 6
"""Numbers recorded with more decimal places than this are decoded unrounded."""
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
                _column_numbers(frame[name])
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
    missing_values: str = "error"
    """``error``: refuse NaN; ``indicator``: model where values are missing (see the module docstring)."""
    missing_indicators: list[str] = field(default_factory=list)
    """Numeric columns with NaNs in training; each has a (present, missing) group after the categorical groups."""
    column_order: list[str] = field(default_factory=list)
    dtypes: dict[str, str] = field(default_factory=dict)
    """Each column's pandas dtype in training, restored when rows are decoded."""
    integer_columns: list[str] = field(default_factory=list)
    datetime_columns: list[str] = field(default_factory=list)
    bounds: dict[str, list[float]] = field(default_factory=dict)
    """Training minimum and maximum of each numeric column; decoded values are clipped to them."""
    precision: dict[str, list[float]] = field(default_factory=dict)
    """Per numeric column that is neither integer nor datetime: the shares of training values recorded to 0, 1,
    ..., :data:`MAX_DECIMALS` decimal places (the rest have more; trailing zeros are allowed for). Each decoded
    value is rounded to a number of places drawn from these shares, as SDV rounds to a column's places, but
    per value: a measurement kept to one decimal decodes to one decimal, and a column of mostly whole numbers
    (a ratio rounded in most records) keeps its point masses, which a real-versus-synthetic classifier would
    otherwise spot at once."""

    @classmethod
    def fit(
        cls,
        frame: pd.DataFrame,
        columns: Sequence[str] | None = None,
        categorical_columns: Sequence[str] | None = None,
        unknown_categories: str = "error",
        missing_values: str = "error",
    ) -> TabularPreprocessor:
        """Columns default to all; categorical ones default to the non-numeric, non-datetime and boolean columns.

        A column with a single value (constant, or one category) becomes a one-category column, reproduced exactly.
        """
        columns = list(columns) if columns is not None else list(frame.columns)
        _require_columns(frame, columns)
        if missing_values not in MISSING_VALUE_POLICIES:
            raise DataError(f"missing_values must be one of {MISSING_VALUE_POLICIES}, got {missing_values!r}")
        empty = [name for name in columns if frame[name].isna().all()]
        if empty:
            raise DataError(f"column(s) {empty} have no values (all NaN); drop them from the table or the columns")
        if missing_values == "error":
            _refuse_missing_values(frame, columns)
        constant = {name for name in columns if frame[name].nunique(dropna=True) == 1}
        listed = set(categorical_columns or ()) | constant  # a constant column is a category reproduced exactly
        datetimes = [name for name in columns if name not in listed and _is_datetime(frame[name])]
        if categorical_columns is None:
            inferred = [name for name in columns if name not in datetimes and _is_categorical(frame[name])]
            for name in inferred:
                _refuse_numbers_with_typos(frame[name])
            listed |= set(inferred)
        categorical = [name for name in columns if name in listed]
        numeric = [name for name in columns if name not in listed]
        for name in numeric:
            if name not in datetimes and not pd.api.types.is_numeric_dtype(frame[name]):
                raise DataError(f"column {name!r} is not numeric; list it among the categorical columns")
        integers = [name for name in numeric if name not in datetimes and _holds_integers(frame[name])]
        values = _numbers(frame, numeric, datetimes)
        scales = np.nanstd(values, 0) if numeric else np.zeros(0)
        categories = {}
        for name in categorical:
            known = sorted(frame[name].dropna().astype(str).unique().tolist())
            categories[name] = known + ([MISSING_CATEGORY] if frame[name].isna().any() else [])
        return cls(
            numeric_columns=numeric,
            categorical_columns=categorical,
            means=np.nanmean(values, 0).tolist() if numeric else [],
            scales=np.where(scales > 0, scales, 1.0).tolist(),
            categories=categories,
            unknown_categories=unknown_categories,
            missing_values=missing_values,
            missing_indicators=[name for name in numeric if frame[name].isna().any()],
            column_order=columns,
            dtypes={name: str(frame[name].dtype) for name in columns},
            integer_columns=integers,
            datetime_columns=datetimes,
            bounds={
                name: [float(np.nanmin(column)), float(np.nanmax(column))]
                for name, column in zip(numeric, values.T, strict=True)
            },
            precision=_precision_shares(frame, [name for name in numeric if name not in {*datetimes, *integers}]),
        )

    def __post_init__(self) -> None:
        if self.unknown_categories not in UNKNOWN_CATEGORY_POLICIES:
            raise DataError(
                f"unknown_categories must be one of {UNKNOWN_CATEGORY_POLICIES}, got {self.unknown_categories!r}"
            )
        if self.missing_values not in MISSING_VALUE_POLICIES:
            raise DataError(f"missing_values must be one of {MISSING_VALUE_POLICIES}, got {self.missing_values!r}")
        check_fields(self)
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
        return sum(self.model_settings()["categorical_sizes"]) + len(self.numeric_columns)

    def model_settings(self) -> dict[str, Any]:
        """What a tabular model must know of the encoded layout: numeric features first, then one-hot groups
        (one per categorical column, then one (present, missing) pair per numeric column with missing values)."""
        sizes = [len(self.categories[name]) for name in self.categorical_columns]
        return {
            "numeric_features": len(self.numeric_columns),
            "categorical_sizes": sizes + [2] * len(self.missing_indicators),
        }

    def transform(self, frame: pd.DataFrame) -> torch.Tensor:
        """Encoded rows, float32 ``(rows, width)``."""
        _require_columns(frame, [*self.numeric_columns, *self.categorical_columns])
        if self.missing_values == "error":
            _refuse_missing_values(frame, [*self.numeric_columns, *self.categorical_columns])
        else:
            _refuse_missing_values(
                frame, [name for name in self.numeric_columns if name not in self.missing_indicators]
            )
        parts = []
        if self.numeric_columns:
            values = _numbers(frame, self.numeric_columns, self.datetime_columns)
            standardised = (values - np.array(self.means)) / np.array(self.scales)
            _refuse_far_values(frame, self.numeric_columns, standardised)
            parts.append(np.nan_to_num(standardised, nan=0.0))
        for name in self.categorical_columns:
            known = self.categories[name]
            column = frame[name].astype(object).where(frame[name].notna(), MISSING_CATEGORY).astype(str)
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
        for name in self.missing_indicators:
            missing = frame[name].isna().to_numpy()
            parts.append(np.stack([~missing, missing], axis=1).astype(np.float64))
        return torch.from_numpy(np.concatenate(parts, axis=1).astype(np.float32))

    def inverse_transform(self, encoded: torch.Tensor, generator: torch.Generator | None = None) -> pd.DataFrame:
        """Rows back in the original columns and dtypes: numbers unscaled, rounded where the column held integers
        (or to places drawn from :attr:`precision`, with ``generator``), clipped to the training range; each
        category the largest of its one-hot group, NaN where missing."""
        values = encoded.detach().cpu().numpy().astype(np.float64)
        columns: dict[str, Any] = {}
        for position, name in enumerate(self.numeric_columns):
            column = values[:, position] * self.scales[position] + self.means[position]
            if name in self.integer_columns:
                column = np.round(column)
            elif name in self.precision:
                column = _round_to_drawn_places(column, self.precision[name], generator)
            low, high = self.bounds.get(name, (-np.inf, np.inf))
            columns[name] = np.clip(column, low, high)
        start = len(self.numeric_columns)
        for name in self.categorical_columns:
            known = self.categories[name]
            columns[name] = np.array(known, dtype=object)[values[:, start : start + len(known)].argmax(1)]
            start += len(known)
        for name in self.missing_indicators:
            columns[name] = np.where(values[:, start + 1] > values[:, start], np.nan, columns[name])
            start += 2
        return pd.DataFrame({name: self._restore(name, columns[name]) for name in self.column_order or columns})

    def _restore(self, name: str, values: np.ndarray) -> pd.Series:
        """One decoded column in its training dtype: datetimes, nullable integers where values are missing."""
        dtype = self.dtypes.get(name)
        if name in self.categorical_columns:
            column = pd.Series(values, dtype=object).replace(MISSING_CATEGORY, np.nan)
            if dtype == "bool" and column.notna().all():
                return column.map({"True": True, "False": False}).astype(bool)
            if dtype is not None and dtype.startswith(("int", "uint", "float")):
                return pd.to_numeric(column)
            if dtype is not None and dtype.startswith("datetime"):
                return pd.to_datetime(column)
            return column
        if name in self.datetime_columns:
            return pd.Series(_seconds_as_datetimes(values))
        if name in self.integer_columns:
            column = pd.Series(values)
            return (
                column.astype("Int64")
                if column.isna().any()
                else column.astype(dtype if dtype and dtype.startswith(("int", "uint")) else "int64")
            )
        return pd.Series(values, dtype=dtype if dtype and dtype.startswith("float") else np.float64)

    def condition_matches(self, encoded: torch.Tensor, conditions: Mapping[str, Any]) -> torch.Tensor:
        """Which encoded rows meet every condition: the same category, or a number within
        :data:`CONDITION_TOLERANCE` standard deviations (half a unit for integer columns)."""
        keep = torch.ones(len(encoded), dtype=torch.bool, device=encoded.device)
        for name, (columns, target) in self._condition_targets(conditions).items():
            if len(columns) == 1:
                position = self.numeric_columns.index(name)
                tolerance = 0.5 / self.scales[position] if name in self.integer_columns else CONDITION_TOLERANCE
                keep &= (encoded[:, columns[0]] - float(target[0])).abs() <= tolerance
            else:
                keep &= encoded[:, columns].argmax(1) == int(np.argmax(target))
        return keep

    def impose_conditions(self, encoded: torch.Tensor, conditions: Mapping[str, Any]) -> torch.Tensor:
        """The rows with every conditioned column set exactly to its condition."""
        encoded = encoded.clone()
        for columns, target in self._condition_targets(conditions).values():
            encoded[:, columns] = torch.as_tensor(target, dtype=encoded.dtype, device=encoded.device)
        return encoded

    def _condition_targets(self, conditions: Mapping[str, Any]) -> dict[str, tuple[list[int], list[float]]]:
        """Each condition as the encoded columns it fixes and their values."""
        layout, start = {}, len(self.numeric_columns)
        for name in self.categorical_columns:
            layout[name] = list(range(start, start + len(self.categories[name])))
            start += len(self.categories[name])
        targets = {}
        for name, value in conditions.items():
            if name in self.categorical_columns:
                label = (
                    MISSING_CATEGORY if value is None or (isinstance(value, float) and np.isnan(value)) else str(value)
                )
                known = self.categories[name]
                if label not in known:
                    raise DataError(
                        f"condition {name}={value!r} is not a category of column {name!r}; it has {known[:10]}"
                    )
                targets[name] = (layout[name], [float(label == category) for category in known])
            elif name in self.numeric_columns:
                position = self.numeric_columns.index(name)
                number = float(_numbers(pd.DataFrame({name: [value]}), [name], self.datetime_columns)[0, 0])
                low, high = self.bounds.get(name, (-np.inf, np.inf))
                if not low <= number <= high:
                    raise DataError(f"condition {name}={value!r} lies outside the training range [{low:g}, {high:g}]")
                targets[name] = ([position], [(number - self.means[position]) / self.scales[position]])
            else:
                raise DataError(f"condition on {name!r}: the table has no such column; it has {self.column_order}")
        return targets

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


def _is_datetime(column: pd.Series) -> bool:
    """Datetime columns, and text columns whose every value is an ISO 8601 date or time."""
    if pd.api.types.is_datetime64_any_dtype(column):
        return True
    if pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column):
        return False
    try:
        pd.to_datetime(column.dropna(), format="ISO8601")
    except (ValueError, TypeError):
        return False
    return True


def _is_categorical(column: pd.Series) -> bool:
    return pd.api.types.is_bool_dtype(column) or not pd.api.types.is_numeric_dtype(column)


def _holds_integers(column: pd.Series) -> bool:
    """Integer columns, and float columns of whole numbers with NaNs (integers a CSV reader widened)."""
    if pd.api.types.is_integer_dtype(column):
        return True
    values = column.dropna().to_numpy(np.float64)
    return bool(column.isna().any() and len(values) and np.all(values == np.round(values)))


def decimal_places(values: np.ndarray) -> np.ndarray:
    """The fewest decimal places that write each value (within a few float64 steps), ``MAX_DECIMALS + 1`` for more."""
    places = np.full(len(values), MAX_DECIMALS + 1)
    tolerance = 8 * np.finfo(np.float64).eps * np.maximum(1.0, np.abs(values))
    for count in range(MAX_DECIMALS, -1, -1):
        exact = np.abs(values - np.round(values, count)) <= tolerance
        places[exact] = count
    return places


def _precision_shares(frame: pd.DataFrame, columns: Sequence[str]) -> dict[str, list[float]]:
    """:attr:`TabularPreprocessor.precision` of ``columns`` (numeric, neither integers nor datetimes)."""
    shares = {}
    for name in columns:
        values = frame[name].dropna().to_numpy(np.float64)
        counts = np.bincount(decimal_places(values), minlength=MAX_DECIMALS + 2)[: MAX_DECIMALS + 1]
        if counts.any():
            shares[name] = _recorded_places(counts / len(values)).tolist()
    return shares


def _recorded_places(fewest: np.ndarray) -> np.ndarray:
    """Shares of values recorded to 0, 1, ... places, from the shares written with that few: a value kept to
    one place ends in 0 one time in ten and then reads as whole, so whole numbers alone would overstate them.
    Solved from the most places down, assuming uniform last digits."""
    recorded = np.zeros_like(fewest)
    for places in range(len(fewest) - 1, -1, -1):
        finer = np.arange(places + 1, len(fewest))
        reads_as = 0.1 ** (finer - places) * (0.9 if places else 1.0)  # recorded to `finer`, read with `places`
        kept = 0.9 if places else 1.0  # recorded to `places`, read so
        recorded[places] = max(fewest[places] - float(recorded[finer] @ reads_as), 0.0) / kept
    return recorded * fewest.sum() / recorded.sum()


def _round_to_drawn_places(
    values: np.ndarray, shares: Sequence[float], generator: torch.Generator | None
) -> np.ndarray:
    """Each value rounded to a number of decimal places drawn from ``shares`` (unrounded past their sum)."""
    device = generator.device if generator is not None else "cpu"
    uniforms = torch.rand(len(values), generator=generator, device=device, dtype=torch.float64).cpu().numpy()
    places = np.searchsorted(np.cumsum(shares), uniforms, side="right")
    rounded = values.copy()
    for count in np.unique(places[places < len(shares)]):
        chosen = places == count
        rounded[chosen] = np.round(values[chosen], count)
    return rounded


def _seconds_as_datetimes(seconds: np.ndarray) -> np.ndarray:
    """Seconds since 1970 (clipped to the training range, NaN where missing) as ``datetime64[ns]`` to the
    second. Converted here, not by ``pd.to_datetime(unit="s")``: its overflow check once raised
    ``FloatingPointError`` on such clipped values deep into a long benchmark process."""
    missing = np.isnan(seconds)
    whole = np.round(np.where(missing, 0.0, seconds)).astype(np.int64)
    return np.where(missing, np.datetime64("NaT", "ns"), whole.astype("datetime64[s]").astype("datetime64[ns]"))


def _numbers(frame: pd.DataFrame, numeric: Sequence[str], datetimes: Sequence[str]) -> np.ndarray:
    """The numeric columns as float64 ``(rows, columns)``, NaN where missing; datetimes as seconds since 1970."""
    columns = []
    for name in numeric:
        if name in datetimes:
            stamps = (
                pd.to_datetime(frame[name], format="ISO8601")
                if not pd.api.types.is_datetime64_any_dtype(frame[name])
                else frame[name]
            )
            columns.append((stamps - pd.Timestamp(0)).dt.total_seconds().to_numpy(np.float64))
        else:
            columns.append(_column_numbers(frame[name]))
    return np.stack(columns, axis=1) if columns else np.zeros((len(frame), 0))


def _column_numbers(column: pd.Series) -> np.ndarray:
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
    if pd.api.types.is_bool_dtype(column) or pd.api.types.is_numeric_dtype(column):
        return  # booleans and numbers taken as categories (a constant column, say) hold no text
    parsed = pd.to_numeric(column, errors="coerce")
    text = parsed.isna() & column.notna()
    if text.any() and parsed.notna().mean() >= 0.5:
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


def _require_columns(frame: pd.DataFrame, columns: Sequence[str]) -> None:
    missing = [name for name in columns if name not in frame.columns]
    if missing:
        raise DataError(f"the table lacks column(s) {missing}; it has {list(frame.columns)}")


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


def _split_rows(spec: DataSpec) -> tuple[pd.DataFrame, pd.Series | None, dict[str, np.ndarray]]:
    """The table without its label column, the label column, and each split's row positions (seeded)."""
    frame = read_table(spec.name)
    labels = None
    if spec.label_column is not None:
        _require_columns(frame, [spec.label_column])
        labels = frame.pop(spec.label_column)
    order = torch.randperm(len(frame), generator=torch.Generator().manual_seed(spec.split_seed)).numpy()
    n_test, n_validation = round(len(frame) * spec.test_fraction), round(len(frame) * spec.validation_fraction)
    if len(frame) - n_test - n_validation < 1:
        raise DataError(f"{spec.name}: {len(frame)} rows are too few for a training split")
    parts = {"test": order[:n_test], "validation": order[n_test : n_test + n_validation]}
    parts["train"] = order[n_test + n_validation :]
    return frame, labels, parts


def table_splits(spec: DataSpec) -> dict[str, pd.DataFrame]:
    """The raw feature rows of each split, exactly the rows a table model trains and is tested on."""
    frame, _, parts = _split_rows(spec)
    columns = list(spec.columns) if spec.columns is not None else list(frame.columns)
    return {name: frame.iloc[rows][columns].reset_index(drop=True) for name, rows in parts.items()}


def column_kinds(frame: pd.DataFrame) -> dict[str, str]:
    """Each column as ``numerical``, ``datetime`` or ``categorical`` (text and booleans), as the preprocessor
    reads them by default; the synthetic-table metrics compare columns by these kinds."""
    kinds = {}
    for name in frame.columns:
        if _is_datetime(frame[name]):
            kinds[name] = "datetime"
        elif _is_categorical(frame[name]):
            kinds[name] = "categorical"
        else:
            kinds[name] = "numerical"
    return kinds


def datetimes_as_seconds(column: pd.Series) -> pd.Series:
    """A datetime (or ISO 8601 text) column as seconds since 1970, NaN where missing."""
    return pd.Series(_numbers(pd.DataFrame({"c": column}), ["c"], ["c"])[:, 0], index=column.index, name=column.name)


def load_tabular_data(spec: DataSpec) -> DataSplits:
    """Seeded random splits of a table's rows; the preprocessor is fitted on the training rows only."""
    frame, labels_column, parts = _split_rows(spec)
    labels = None
    if labels_column is not None:
        codes, classes = pd.factorize(labels_column, sort=True)
        labels = torch.from_numpy(codes.astype(np.int64))
    preprocessor = TabularPreprocessor.fit(
        frame.iloc[parts["train"]], spec.columns, spec.categorical_columns, missing_values=spec.missing_values
    )
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

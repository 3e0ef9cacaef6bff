"""What every model of table rows shares: the encoded layout and the preprocessor saved beside the weights.

Rows arrive encoded by :class:`genmodels.data.tabular.TabularPreprocessor`: standardised numbers
first, then one one-hot group per categorical column. A table model's config records that layout,
and the preprocessor travels with the weights, so a loaded model scores raw tables.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import torch

from genmodels.data.tabular import PREPROCESSOR_FILE, TabularPreprocessor
from genmodels.errors import CheckpointError, ConfigError, DataError
from genmodels.io.validation import Range, Sizes
from genmodels.models.base import ModelConfig

if TYPE_CHECKING:
    import pandas as pd

CONDITION_BATCH = 1000
"""Fewest rows drawn per round of conditional sampling."""
CONDITION_ROUNDS = 50
"""Rounds of conditional sampling before giving up on conditions the model rarely meets."""


@dataclass
class TableLayoutConfig(ModelConfig):
    numeric_features: Annotated[int, Range(minimum=-1)] = -1
    """Leading numeric features; -1: every feature is numeric."""
    categorical_sizes: Sizes = ()
    """Sizes of the one-hot groups that follow the numeric features."""

    def __post_init__(self) -> None:
        super().__post_init__()
        width = self.data_shape[0] if len(self.data_shape) == 1 else -1
        if self.numeric_features == -1:
            self.numeric_features = width - sum(self.categorical_sizes)
        if (
            len(self.data_shape) != 1
            or self.numeric_features < 0
            or min(self.categorical_sizes, default=1) < 1
            or self.numeric_features + sum(self.categorical_sizes) != width
        ):
            raise ConfigError(
                f"a table model takes rows of shape (features,) = numeric_features + sum(categorical_sizes); got "
                f"data_shape {self.data_shape}, {self.numeric_features} numeric, groups {self.categorical_sizes}"
            )

    def category_groups(self) -> list[slice]:
        """The columns of each one-hot group, in order."""
        start, groups = self.numeric_features, []
        for size in self.categorical_sizes:
            groups.append(slice(start, start + size))
            start += size
        return groups


class TableModel:
    """Mixin for models of table rows: saves and reloads the preprocessor, refusing one of another layout,
    and samples whole tables, optionally conditioned on column values."""

    preprocessor: TabularPreprocessor | None = None
    config: TableLayoutConfig

    def save_extras(self, directory: Path) -> list[str]:
        if self.preprocessor is None:
            return []
        self.preprocessor.save(directory)
        return [PREPROCESSOR_FILE]

    def load_extras(self, directory: Path) -> None:
        if not (Path(directory) / PREPROCESSOR_FILE).is_file():
            return
        preprocessor = TabularPreprocessor.load(directory)
        if preprocessor.model_settings() != {
            "numeric_features": self.config.numeric_features,
            "categorical_sizes": list(self.config.categorical_sizes),
        }:
            raise CheckpointError(f"{directory / PREPROCESSOR_FILE} does not match the model's feature layout")
        self.preprocessor = preprocessor

    def sample(
        self,
        n: int,
        generator: torch.Generator | None = None,
        conditions: Mapping[str, Any] | None = None,
        **controls: Any,
    ) -> torch.Tensor:
        """``n`` encoded rows; with ``conditions`` ({column: value}) only rows that meet them.

        Conditioning is by rejection: rows are drawn in rounds and kept where each categorical column
        has its asked-for category and each numeric column lies within the preprocessor's tolerance of
        its value, which is then set exactly. Conditions the model rarely meets raise a ``DataError``.
        """
        if not conditions:
            return super().sample(n, generator, **controls)  # type: ignore[misc]
        preprocessor = self._table_preprocessor("conditional sampling")
        kept, drawn, batch = [], 0, max(int(n), CONDITION_BATCH)
        for _ in range(CONDITION_ROUNDS):
            rows = super().sample(batch, generator, **controls)  # type: ignore[misc]
            kept.append(rows[preprocessor.condition_matches(rows, conditions)])
            drawn += batch
            if sum(len(part) for part in kept) >= n:
                return preprocessor.impose_conditions(torch.cat(kept)[:n], conditions)
        met = sum(len(part) for part in kept)
        raise DataError(
            f"only {met} of {drawn} sampled rows met the conditions {dict(conditions)}, fewer than the {n} asked "
            "for; the model rarely generates such rows: ask for fewer or loosen the conditions"
        )

    def sample_table(
        self,
        n: int,
        generator: torch.Generator | None = None,
        conditions: Mapping[str, Any] | None = None,
        **controls: Any,
    ) -> pd.DataFrame:
        """``n`` synthetic rows in the training table's columns, dtypes, categories and ranges."""
        preprocessor = self._table_preprocessor("sampling a table")
        rows = self.sample(n, generator, conditions=conditions, **controls)
        table = preprocessor.inverse_transform(rows, generator)  # the same generator draws the decimal places
        for name, value in (conditions or {}).items():
            if name in preprocessor.precision:  # a condition holds exactly, whatever places the column rounds to
                table[name] = float(value)
        return table

    def _table_preprocessor(self, purpose: str) -> TabularPreprocessor:
        if self.preprocessor is None:
            raise DataError(f"{purpose} needs the model's preprocessor (preprocessor.json), and this model has none")
        return self.preprocessor

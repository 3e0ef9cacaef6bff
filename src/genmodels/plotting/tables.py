"""A synthetic table beside the real one: each column's marginal, and the two correlation matrices."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from genmodels.data.tabular import column_kinds, datetimes_as_seconds

MAX_CATEGORIES_SHOWN = 12


def _save(figure: Figure, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    return path


def _as_numbers(frame: pd.DataFrame, kinds: dict[str, str]) -> pd.DataFrame:
    """Numbers and datetimes (as seconds) as floats; categories as their codes in the real table's order."""
    return pd.DataFrame(
        {
            name: datetimes_as_seconds(frame[name])
            if kind == "datetime"
            else pd.to_numeric(frame[name], errors="coerce")
            for name, kind in kinds.items()
            if kind != "categorical"
        }
    )


def plot_marginals(real: pd.DataFrame, synthetic: pd.DataFrame, path: str | Path) -> Path:
    """One panel per column: overlaid histograms for numbers, side-by-side bar shares for categories."""
    kinds = column_kinds(real)
    columns = list(real.columns)
    width = min(4, len(columns))
    height = math.ceil(len(columns) / width)
    figure = Figure(figsize=(3.2 * width, 2.6 * height), layout="constrained")
    real_numbers, synthetic_numbers = _as_numbers(real, kinds), _as_numbers(synthetic, kinds)
    for index, name in enumerate(columns):
        axes = figure.add_subplot(height, width, index + 1)
        if kinds[name] == "categorical":
            shares = pd.DataFrame(
                {
                    "real": real[name].astype(str).value_counts(normalize=True),
                    "synthetic": synthetic[name].astype(str).value_counts(normalize=True),
                }
            ).fillna(0)
            shares = shares.sort_values("real", ascending=False).head(MAX_CATEGORIES_SHOWN)
            positions = np.arange(len(shares))
            axes.bar(positions - 0.2, shares["real"], 0.4, label="real", color="tab:blue")
            axes.bar(positions + 0.2, shares["synthetic"], 0.4, label="synthetic", color="tab:red")
            axes.set_xticks(positions, [str(label)[:10] for label in shares.index], rotation=45, fontsize=7)
        else:
            values = real_numbers[name].dropna()
            bins = np.histogram_bin_edges(values, bins=30) if values.nunique() > 1 else 10
            axes.hist(values, bins=bins, density=True, alpha=0.5, label="real", color="tab:blue")
            axes.hist(
                synthetic_numbers[name].dropna(), bins=bins, density=True, alpha=0.5, label="synthetic", color="tab:red"
            )
        axes.set_title(name, fontsize=9)
        if index == 0:
            axes.legend(fontsize=7)
    return _save(figure, path)


def plot_correlations(real: pd.DataFrame, synthetic: pd.DataFrame, path: str | Path) -> Path:
    """Pearson correlation matrices of the numeric (and datetime) columns, real beside synthetic."""
    kinds = column_kinds(real)
    real_numbers, synthetic_numbers = _as_numbers(real, kinds), _as_numbers(synthetic, kinds)
    names = list(real_numbers.columns)
    figure = Figure(figsize=(10, 4.6), layout="constrained")
    for index, (title, numbers) in enumerate((("real", real_numbers), ("synthetic", synthetic_numbers))):
        axes = figure.add_subplot(1, 2, index + 1)
        image = axes.imshow(numbers.corr().to_numpy(), vmin=-1, vmax=1, cmap="RdBu_r")
        axes.set_xticks(range(len(names)), [name[:12] for name in names], rotation=90, fontsize=6)
        axes.set_yticks(range(len(names)), [name[:12] for name in names], fontsize=6)
        axes.set_title(f"{title} correlations")
    figure.colorbar(image, ax=figure.axes, shrink=0.8)
    return _save(figure, path)

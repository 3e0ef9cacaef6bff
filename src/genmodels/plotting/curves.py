"""Training curves from a run's ``history.csv``: a grid of panels, train and validation together.

Per-dimension metrics (``kl_dim_0``, ``kl_dim_1``, ...) share one panel, and a metric whose
values equal another's at every logged step (a VAE's ``loss`` and ``negative_elbo`` when the
KL weight is 1) is drawn once, titled with both names.
"""

from __future__ import annotations

import csv
import math
import re
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from genmodels.errors import DataError

PANEL_COLUMNS = 3
PANEL_SIZE = (4.0, 3.0)
"""Width and height of one panel, inches."""
NOT_PLOTTED = ("step", "split", "learning_rate", "seconds", "data_wait_share")
PER_DIMENSION = re.compile(r"^(?P<group>.+)_dim_\d+$")

Rows = list[dict[str, str]]


def curve_panels(rows: Rows) -> list[tuple[str, list[str]]]:
    """The panels to draw, in the history's column order: ``(title, metrics drawn in it)``."""
    panels: list[tuple[str, list[str]]] = []
    groups: dict[str, list[str]] = {}
    kept: list[str] = []
    for name in rows[0]:
        if name in NOT_PLOTTED:
            continue
        match = PER_DIMENSION.match(name)
        if match:
            group = match.group("group")
            if group not in groups:
                groups[group] = []
                panels.append((f"{group} per dimension", groups[group]))
            groups[group].append(name)
            continue
        twin = next((other for other in kept if _same_values(rows, other, name)), None)
        if twin is not None:
            index = next(i for i, (_, metrics) in enumerate(panels) if metrics == [twin])
            panels[index] = (f"{panels[index][0]} = {name}", [twin])
            continue
        kept.append(name)
        panels.append((name, [name]))
    return panels


def _same_values(rows: Rows, first: str, second: str) -> bool:
    pairs = [(row[first], row[second]) for row in rows if row[first] or row[second]]
    if not pairs or any(not a or not b for a, b in pairs):
        return False
    return bool(np.allclose([float(a) for a, _ in pairs], [float(b) for _, b in pairs], rtol=1e-6, atol=0.0))


def plot_training_curves(history_path: str | Path, path: str | Path) -> Path:
    with Path(history_path).open(newline="", encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    if not rows:
        raise DataError(f"{history_path} has no rows to plot")
    panels = curve_panels(rows)
    columns = min(PANEL_COLUMNS, len(panels))
    grid_rows = math.ceil(len(panels) / columns)
    figure = Figure(figsize=(PANEL_SIZE[0] * columns, PANEL_SIZE[1] * grid_rows), layout="constrained")
    axes = figure.subplots(grid_rows, columns, squeeze=False).flatten()
    for axis, (title, metrics) in zip(axes, panels, strict=False):
        if len(metrics) == 1:
            _plot_splits(axis, rows, metrics[0])
        else:
            _plot_dimensions(axis, rows, metrics)
        axis.set_title(title)
        axis.set_xlabel("step")
        axis.grid(alpha=0.3)
    for axis in axes[len(panels) :]:
        axis.set_visible(False)
    path = Path(path)
    figure.savefig(path, dpi=110)
    return path


def _points(rows: Rows, metric: str, split: str) -> tuple[list[int], list[float]]:
    points = [(int(row["step"]), float(row[metric])) for row in rows if row["split"] == split and row[metric]]
    steps, values = zip(*points, strict=True) if points else ((), ())
    return list(steps), list(values)


def _plot_splits(axis: Axes, rows: Rows, metric: str) -> None:
    for split, style in (("train", "-"), ("validation", "o-")):
        steps, values = _points(rows, metric, split)
        if steps:
            axis.plot(steps, values, style, label=split, markersize=3)
    axis.legend()


def _plot_dimensions(axis: Axes, rows: Rows, metrics: list[str]) -> None:
    """One thin line per dimension, coloured in order (viridis); the legend names the first and last only."""
    colours = colormaps["viridis"](np.linspace(0.0, 0.9, len(metrics)))
    for index, (metric, colour) in enumerate(zip(metrics, colours, strict=True)):
        split = "validation" if any(row["split"] == "validation" and row[metric] for row in rows) else "train"
        steps, values = _points(rows, metric, split)
        label = metric if index in (0, len(metrics) - 1) else None
        axis.plot(steps, values, "-", color=colour, linewidth=1, label=label)
    axis.legend(fontsize="small", title=f"{len(metrics)} dimensions", title_fontsize="small")

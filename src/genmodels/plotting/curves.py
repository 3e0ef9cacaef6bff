"""Training curves from a run's ``history.csv``: one panel per loss, train and validation together."""

from __future__ import annotations

import csv
from pathlib import Path

from matplotlib.figure import Figure


def plot_training_curves(history_path: str | Path, path: str | Path) -> Path:
    with Path(history_path).open(newline="", encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    if not rows:
        raise ValueError(f"{history_path} has no rows to plot")
    metrics = [name for name in rows[0] if name not in ("step", "split", "learning_rate", "seconds")]
    figure = Figure(figsize=(4.0 * len(metrics), 3.2), layout="constrained")
    axes = figure.subplots(1, len(metrics), squeeze=False)[0]
    for axis, metric in zip(axes, metrics, strict=False):
        for split, style in (("train", "-"), ("validation", "o-")):
            points = [(int(row["step"]), float(row[metric])) for row in rows if row["split"] == split and row[metric]]
            if points:
                steps, values = zip(*points, strict=False)
                axis.plot(steps, values, style, label=split, markersize=3)
        axis.set_title(metric)
        axis.set_xlabel("step")
        axis.grid(alpha=0.3)
        axis.legend()
    path = Path(path)
    figure.savefig(path, dpi=110)
    return path

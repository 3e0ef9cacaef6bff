"""Generated 2-D points over real ones: the picture of a mode-collapse test bed."""

from __future__ import annotations

from pathlib import Path

import torch
from matplotlib.figure import Figure


def plot_points(real: torch.Tensor, generated: torch.Tensor, path: str | Path, title: str = "") -> Path:
    figure = Figure(figsize=(5, 5), layout="constrained")
    axes = figure.add_subplot()
    axes.scatter(*real.cpu().numpy().T, s=2, alpha=0.3, color="tab:blue", label="real")
    axes.scatter(*generated.cpu().numpy().T, s=2, alpha=0.5, color="tab:red", label="generated")
    axes.set(xlim=(0, 1), ylim=(0, 1), aspect="equal", title=title)
    axes.legend(loc="upper right", markerscale=4)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    return path

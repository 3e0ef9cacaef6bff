"""Views of a 2-D latent space: encoded test points by label, and decoded images over a grid."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure
from scipy.stats import norm

from genmodels.errors import ConfigError
from genmodels.plotting.grids import save_image_grid


def plot_latent_map(latents: np.ndarray, labels: np.ndarray | None, path: str | Path, title: str = "") -> Path:
    """Scatter of 2-D latent means, coloured by class label where there are labels."""
    if latents.ndim != 2 or latents.shape[1] != 2:
        raise ConfigError(f"a latent map needs 2-D latent codes, got shape {latents.shape}")
    figure = Figure(figsize=(6, 5), layout="constrained")
    axis = figure.subplots()
    points = axis.scatter(latents[:, 0], latents[:, 1], c=labels, cmap="tab10", s=6, alpha=0.8)
    if labels is not None:
        figure.colorbar(points, ax=axis, label="label")
    axis.set_xlabel("z[0]")
    axis.set_ylabel("z[1]")
    axis.set_title(title or "latent means of test data")
    path = Path(path)
    figure.savefig(path, dpi=110)
    return path


def save_manifold_grid(
    decode: Callable[[torch.Tensor], torch.Tensor], path: str | Path, points_per_side: int = 15
) -> Path:
    """Decode an evenly spaced grid of the standard normal's quantiles (Kingma & Welling, 2014, fig. 4)."""
    quantiles = norm.ppf(np.linspace(0.05, 0.95, points_per_side)).astype(np.float32)
    # rows run from high to low z[1], so the picture reads like the latent map above it
    z1, z0 = np.meshgrid(quantiles[::-1], quantiles, indexing="ij")
    z = torch.from_numpy(np.stack([z0.ravel(), z1.ravel()], axis=1))
    with torch.no_grad():
        images = decode(z)
    return save_image_grid(images, path, columns=points_per_side)

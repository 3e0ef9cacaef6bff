"""Images tiled into one picture, pixel-exact (nearest-neighbour upscaling, no smoothing), bare or labelled."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure
from PIL import Image

from genmodels.errors import ConfigError
from genmodels.io.files import atomic_path


def image_grid(images: torch.Tensor, columns: int | None = None, padding: int = 1) -> np.ndarray:
    """Tile ``(n, channels, height, width)`` images in [0, 1] into one uint8 array ``(H, W)`` or ``(H, W, 3)``."""
    if images.dim() != 4 or images.shape[1] not in (1, 3):
        raise ConfigError(f"expected images of shape (n, 1 or 3, height, width), got {tuple(images.shape)}")
    n, channels, height, width = images.shape
    columns = columns or math.ceil(math.sqrt(n))
    rows = math.ceil(n / columns)
    pixels = (images.detach().float().clamp(0, 1) * 255).round().to(torch.uint8).cpu().numpy()
    grid = np.full(
        (rows * (height + padding) + padding, columns * (width + padding) + padding, channels), 255, dtype=np.uint8
    )
    for index in range(n):
        row, column = divmod(index, columns)
        top, left = padding + row * (height + padding), padding + column * (width + padding)
        grid[top : top + height, left : left + width] = pixels[index].transpose(1, 2, 0)
    return grid[..., 0] if channels == 1 else grid


def grid_picture(images: torch.Tensor, columns: int | None = None, min_size: int = 512) -> Image.Image:
    """The grid as a picture, enlarged by a whole factor so it is at least ``min_size`` pixels wide."""
    grid = image_grid(images, columns)
    scale = max(1, math.ceil(min_size / grid.shape[1]))
    picture = Image.fromarray(grid)
    return picture.resize((grid.shape[1] * scale, grid.shape[0] * scale), Image.Resampling.NEAREST)


def save_image_grid(images: torch.Tensor, path: str | Path, columns: int | None = None, min_size: int = 512) -> Path:
    """Write the grid as a PNG, enlarged by a whole factor so it is at least ``min_size`` pixels wide."""
    picture = grid_picture(images, columns, min_size)
    path = Path(path)
    with atomic_path(path) as temporary:
        picture.save(temporary, format="PNG")
    return path


CELL_PIXELS = 64
"""Height and width each image gets in a labelled grid, whatever its own size: readable at a glance."""
LABELLED_DPI = 100


def save_labelled_grid(
    images: torch.Tensor,
    path: str | Path,
    columns: int,
    row_labels: Sequence[str] = (),
    column_labels: Sequence[str] = (),
    title: str | None = None,
) -> Path:
    """The grid of :func:`image_grid` with a title, a label per row (left) and per column (below).

    Each image is shown about :data:`CELL_PIXELS` pixels tall, nearest-neighbour, so a strip of ten
    28x28 digits makes a picture some 700 pixels wide rather than 300.
    """
    grid = image_grid(images, columns)
    rows = math.ceil(len(images) / columns)
    cell = grid.shape[0] / rows  # pixels per image, padding included
    scale = CELL_PIXELS / cell
    label_width = 0.1 * max((len(label) for label in row_labels), default=0)  # inches, at the default font size
    width = grid.shape[1] * scale / LABELLED_DPI + label_width + 0.4
    height = grid.shape[0] * scale / LABELLED_DPI + (0.6 if title else 0.2) + (0.5 if column_labels else 0.2)
    figure = Figure(figsize=(width, height), layout="constrained")
    axis = figure.subplots()
    axis.imshow(grid, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    centres_y = [(row + 0.5) * cell for row in range(rows)]
    centres_x = [(column + 0.5) * grid.shape[1] / columns for column in range(columns)]
    axis.set_yticks(centres_y[: len(row_labels)], list(row_labels))
    axis.set_xticks(centres_x[: len(column_labels)], list(column_labels), fontsize="small")
    axis.tick_params(length=0)
    for spine in axis.spines.values():
        spine.set_visible(False)
    if title:
        axis.set_title(title)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=LABELLED_DPI)
    return path


def save_reconstructions(pairs: torch.Tensor, path: str | Path, columns: int = 16) -> Path:
    """Originals and reconstructions interleaved in pairs, drawn as labelled rows: originals above their
    reconstructions, ``columns`` images to a row."""
    originals, reconstructions = pairs[0::2], pairs[1::2]
    rows, labels = [], []
    for start in range(0, len(originals), columns):
        rows += [originals[start : start + columns], reconstructions[start : start + columns]]
        labels += ["original", "reconstruction"]
    width = min(columns, len(originals))
    # a short last pair of rows is padded with white, so each reconstruction sits under its original
    padded = [torch.cat([row.cpu(), torch.ones(width - len(row), *row.shape[1:])]) for row in rows]
    return save_labelled_grid(torch.cat(padded), path, width, labels, title="held-out images and their reconstructions")

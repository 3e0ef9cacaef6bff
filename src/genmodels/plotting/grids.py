"""Images tiled into one picture, pixel-exact (nearest-neighbour upscaling, no smoothing)."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from PIL import Image


def image_grid(images: torch.Tensor, columns: int | None = None, padding: int = 1) -> np.ndarray:
    """Tile ``(n, channels, height, width)`` images in [0, 1] into one uint8 array ``(H, W)`` or ``(H, W, 3)``."""
    if images.dim() != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"expected images of shape (n, 1 or 3, height, width), got {tuple(images.shape)}")
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
    path.parent.mkdir(parents=True, exist_ok=True)
    picture.save(path)
    return path

"""A live view of training: every few validations, a grid of samples drawn with the same seed, beside the curves.

The trainer calls :func:`progress_view` (when ``trainer.sample_grid_every`` > 0), so a user watching
``RUN/progress/`` sees the digits emerge step by step: the same noise each time, only the weights change.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch

from genmodels.data import DataSplits
from genmodels.models.base import GenerativeModel
from genmodels.plotting import plot_points, plot_training_curves, save_image_grid
from genmodels.training.trainer import HISTORY_NAME

PROGRESS_DIR = "progress"
GRID_SAMPLES = 64
POINT_SAMPLES = 1000
PROGRESS_SEED = 0


def progress_view(run_dir: Path, data: DataSplits) -> Callable[[GenerativeModel, int], None] | None:
    """The trainer's hook for images and 2-D points; None for data with nothing to draw (text, tables)."""
    is_image, is_points = len(data.data_shape) == 3, tuple(data.data_shape) == (2,)
    if data.is_text or data.preprocessor is not None or not (is_image or is_points):
        return None
    folder = Path(run_dir) / PROGRESS_DIR

    def write(model: GenerativeModel, step: int) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        generator = torch.Generator(device=model.device).manual_seed(PROGRESS_SEED)
        if is_image:
            save_image_grid(model.sample(GRID_SAMPLES, generator=generator), folder / f"samples_step{step:07d}.png")
        else:
            samples = model.sample(POINT_SAMPLES, generator=generator)
            plot_points(data.train.images, samples, folder / f"samples_step{step:07d}.png", title=f"step {step}")
        if (Path(run_dir) / HISTORY_NAME).is_file():
            plot_training_curves(Path(run_dir) / HISTORY_NAME, folder / "training_curves.png")

    return write

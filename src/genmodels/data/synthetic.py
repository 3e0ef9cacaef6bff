"""Mode-collapse test beds: mixtures of 2-D Gaussians with known modes (unrolled GAN, VEEGAN, PacGAN).

``grid25``: 25 Gaussians centred on {-4, -2, 0, 2, 4}^2 with standard deviation 0.05; ``ring8``:
8 Gaussians evenly on a circle of radius 2 with standard deviation 0.02. Points are mapped affinely
into [0, 1]^2 (the range every genmodels model expects); :data:`MIXTURES` holds the centres and
scale in those coordinates, for :func:`genmodels.evaluation.modes.mode_statistics`. Labels are the
mode indices. 10,000 seeded points each.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from genmodels.data.registry import RawData, register_dataset

POINTS = 10_000


@dataclass(frozen=True)
class GaussianMixture2D:
    centres: np.ndarray
    """(modes, 2), in [0, 1] coordinates."""
    std: float

    def draw(self, n: int, seed: int) -> RawData:
        random = np.random.default_rng(seed)
        modes = random.integers(len(self.centres), size=n)
        points = self.centres[modes] + self.std * random.standard_normal((n, 2))
        return np.clip(points, 0.0, 1.0).astype(np.float32), modes.astype(np.int64)


def _to_unit_square(points: np.ndarray, half_width: float) -> np.ndarray:
    return (points + half_width) / (2 * half_width)


_GRID_HALF_WIDTH, _RING_HALF_WIDTH = 5.0, 2.5
MIXTURES = {
    "grid25": GaussianMixture2D(
        _to_unit_square(np.array([(x, y) for x in range(-4, 5, 2) for y in range(-4, 5, 2)], float), _GRID_HALF_WIDTH),
        0.05 / (2 * _GRID_HALF_WIDTH),
    ),
    "ring8": GaussianMixture2D(
        _to_unit_square(
            np.array([(2 * math.cos(2 * math.pi * k / 8), 2 * math.sin(2 * math.pi * k / 8)) for k in range(8)]),
            _RING_HALF_WIDTH,
        ),
        0.02 / (2 * _RING_HALF_WIDTH),
    ),
}


@register_dataset("grid25", "25 2-D Gaussians on a 5x5 grid (std 0.05, spacing 2), the mode-collapse test bed", True)
def load_grid25() -> RawData:
    return MIXTURES["grid25"].draw(POINTS, seed=25)


@register_dataset("ring8", "8 2-D Gaussians on a ring of radius 2 (std 0.02), the mode-collapse test bed", True)
def load_ring8() -> RawData:
    return MIXTURES["ring8"].draw(POINTS, seed=8)

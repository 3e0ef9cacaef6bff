"""Modes recovered and high-quality samples on a mixture of Gaussians (Metz et al., 2017; Srivastava et al., 2017).

A sample is of high quality when it lies within three standard deviations of its nearest mode's
centre. A mode counts as recovered when at least ``min_share`` of all samples are high-quality
samples of that mode (default 0.8%, i.e. 20 of 2,500: one fifth of a fair share for 25 modes),
so a few stray points do not count as a mode the generator has learned.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from genmodels.data.synthetic import GaussianMixture2D
from genmodels.errors import ConfigError


def mode_statistics(samples: np.ndarray, mixture: GaussianMixture2D, min_share: float = 0.008) -> dict[str, Any]:
    samples = np.asarray(samples, dtype=np.float64).reshape(len(samples), -1)
    if samples.shape[1] != mixture.centres.shape[1]:
        raise ConfigError(
            f"samples have {samples.shape[1]} coordinates, the mixture's modes {mixture.centres.shape[1]}"
        )
    distances = np.linalg.norm(samples[:, None, :] - mixture.centres[None, :, :], axis=-1)
    nearest = distances.argmin(axis=1)
    high_quality = distances[np.arange(len(samples)), nearest] <= 3 * mixture.std
    counts = np.bincount(nearest[high_quality], minlength=len(mixture.centres))
    return {
        "modes": len(mixture.centres),
        "modes_recovered": int((counts >= min_share * len(samples)).sum()),
        "high_quality_fraction": float(high_quality.mean()),
        "samples": len(samples),
        "samples_per_mode": counts.tolist(),
    }

"""Named data sets that ship with the library (or with a package it depends on)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

RawData = tuple[np.ndarray, "np.ndarray | None"]
"""Images (N, H, W) or (N, C, H, W) in any supported dtype, and labels (N,) or None."""


@dataclass(frozen=True)
class RegisteredDataset:
    description: str
    load: Callable[[], RawData]
    vectors: bool = False
    """Rows are feature vectors (N, D) in [0, 1], not images: no channel or size conversion."""


DATASETS: dict[str, RegisteredDataset] = {}


def register_dataset(name: str, description: str, vectors: bool = False):
    """Decorator: make ``load() -> (images, labels)`` available as data set ``name``."""

    def register(load: Callable[[], RawData]) -> Callable[[], RawData]:
        DATASETS[name] = RegisteredDataset(description, load, vectors)
        return load

    return register

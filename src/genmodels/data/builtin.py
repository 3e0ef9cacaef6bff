"""The built-in data sets: available offline on a fresh install."""

from __future__ import annotations

import gzip
from importlib import resources

import numpy as np

from genmodels.data.registry import RawData, register_dataset

MNIST5K_FILE = resources.files("genmodels.data") / "files" / "mnist_5k.csv.gz"


@register_dataset("digits", "scikit-learn's 1,797 handwritten digits, 8x8 grey levels, 10 classes")
def load_digits() -> RawData:
    from sklearn.datasets import load_digits as sklearn_digits

    digits = sklearn_digits()
    return (digits.images / 16.0).astype(np.float32), digits.target.astype(np.int64)


@register_dataset("mnist5k", "5,000 MNIST digits (500 per class), 28x28 grey levels, shipped with genmodels")
def load_mnist5k() -> RawData:
    with MNIST5K_FILE.open("rb") as compressed, gzip.open(compressed, "rt") as text:
        table = np.loadtxt(text, delimiter=",", dtype=np.uint8)
    return table[:, :784].reshape(-1, 28, 28), table[:, 784].astype(np.int64)

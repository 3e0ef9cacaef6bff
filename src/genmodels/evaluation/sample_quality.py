"""Sample-quality metrics in a feature space: Frechet distance, precision/recall, density/coverage, classes.

- Frechet distance between Gaussians fitted to real and generated features (Heusel et al., 2017),
  named ``fd_<data set>`` because the features are the data set's own network, not Inception: values
  are comparable only within one data set and feature network.
- Precision and recall (Kynkaanniemi et al., 2019) and density and coverage (Naeem et al., 2020),
  from k-nearest-neighbour balls, computed by the authors' ``prdc`` package.
- Mode coverage through the classifier: how many classes the samples produce and the KL divergence
  of their predicted-label distribution from uniform.
"""

from __future__ import annotations

import contextlib
import io
from collections.abc import Iterable
from typing import Any

import numpy as np
import torch
from prdc import compute_prdc
from scipy import linalg

from genmodels.errors import ConfigError
from genmodels.evaluation.feature_network import FeatureNetwork

METRICS = ("fd", "prd", "coverage", "classes")
"""``fd``: Frechet distance; ``prd``: precision and recall; ``coverage``: density and coverage; ``classes``."""
NEAREST_K = 5
MIN_CLASS_SHARE = 0.25
"""A class counts as produced when it gets at least this fraction of a uniform share of the samples."""


def frechet_distance(real: np.ndarray, fake: np.ndarray) -> float:
    """||mu_r - mu_f||^2 + Tr(S_r + S_f - 2 (S_r S_f)^(1/2)) between feature sets ``(n, d)``."""
    real, fake = np.asarray(real, np.float64), np.asarray(fake, np.float64)
    if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1] or min(len(real), len(fake)) < 2:
        raise ConfigError(f"need two feature sets (n >= 2, same width), got {real.shape} and {fake.shape}")
    mean_difference = real.mean(0) - fake.mean(0)
    covariance_real, covariance_fake = np.cov(real, rowvar=False), np.cov(fake, rowvar=False)
    # Tr((S_r S_f)^(1/2)) = sum of sqrt(eigenvalues of S_r^(1/2) S_f S_r^(1/2)), a symmetric PSD matrix:
    # stable where ReLU features leave the covariances singular, unlike sqrtm of the product.
    eigenvalues, eigenvectors = linalg.eigh(covariance_real)
    root_real = (eigenvectors * np.sqrt(eigenvalues.clip(min=0))) @ eigenvectors.T
    cross = linalg.eigvalsh(root_real @ covariance_fake @ root_real).clip(min=0)
    trace = np.trace(covariance_real) + np.trace(covariance_fake) - 2 * np.sqrt(cross).sum()
    return float(mean_difference @ mean_difference + trace)


def precision_recall_density_coverage(real: np.ndarray, fake: np.ndarray, nearest_k: int = NEAREST_K) -> dict:
    with contextlib.redirect_stdout(io.StringIO()):  # prdc prints the set sizes
        values = compute_prdc(np.asarray(real, np.float32), np.asarray(fake, np.float32), nearest_k)
    return {name: float(value) for name, value in values.items()}


def class_statistics(probabilities: np.ndarray) -> dict[str, Any]:
    """Classes produced and KL(predicted-label distribution || uniform), from classifier probabilities."""
    num_classes = probabilities.shape[1]
    counts = np.bincount(probabilities.argmax(1), minlength=num_classes)
    shares = counts / counts.sum()
    nonzero = shares[shares > 0]
    return {
        "classes_produced": int((shares >= MIN_CLASS_SHARE / num_classes).sum()),
        "num_classes": num_classes,
        "class_kl_to_uniform": float((nonzero * np.log(nonzero * num_classes)).sum()),
        "class_counts": counts.tolist(),
        "mean_confidence": float(probabilities.max(1).mean()),
    }


def sample_quality(
    network: FeatureNetwork,
    reference: torch.Tensor,
    candidates: torch.Tensor,
    metrics: Iterable[str] = METRICS,
    nearest_k: int = NEAREST_K,
) -> dict[str, Any]:
    """Compare ``candidates`` (generated, or real held-out images for the floor) with ``reference`` images."""
    metrics = list(metrics)
    if not torch.isfinite(candidates).all():
        raise ConfigError("the candidate images contain NaN or infinite values")
    unknown = set(metrics) - set(METRICS)
    if unknown:
        raise ConfigError(f"unknown metric(s) {sorted(unknown)}; choose from {', '.join(METRICS)}")
    real_features, _ = network.embed(reference)
    fake_features, probabilities = network.embed(candidates)
    results: dict[str, Any] = {
        "feature_network": network.config.data_name,
        "reference_images": len(reference),
        "candidate_images": len(candidates),
    }
    if "fd" in metrics:
        results[f"fd_{network.config.data_name}"] = frechet_distance(real_features, fake_features)
    if "prd" in metrics or "coverage" in metrics:
        neighbourhood = precision_recall_density_coverage(real_features, fake_features, nearest_k)
        results["nearest_k"] = nearest_k
        if "prd" in metrics:
            results.update(precision=neighbourhood["precision"], recall=neighbourhood["recall"])
        if "coverage" in metrics:
            results.update(density=neighbourhood["density"], coverage=neighbourhood["coverage"])
    if "classes" in metrics:
        results.update(class_statistics(probabilities))
    return results

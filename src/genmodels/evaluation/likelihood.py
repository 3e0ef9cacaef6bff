"""Held-out likelihoods and bounds, batched, in nats and bits per dimension, named for what they are."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from genmodels.models.base import GenerativeModel

ESTIMATORS = {
    "exact": "exact log-likelihood",
    "importance_weighted": "importance-weighted bound (Burda et al., 2016)",
    "elbo": "evidence lower bound",
}


def evaluate_likelihood(
    model: GenerativeModel,
    images: torch.Tensor,
    labels: torch.Tensor | None = None,
    discrete: bool = False,
    batch_size: int = 100,
    seed: int = 0,
) -> dict[str, dict[str, Any]]:
    """Test negative ELBO (where the model has ``elbo``) and negative ``log_prob``, each with its estimator.

    Bits per dimension are reported only for ``discrete`` data (e.g. binarized images), where the
    likelihood is a probability mass; for densities they would not be comparable.
    """
    if model.log_prob_kind not in ESTIMATORS:
        raise NotImplementedError(f"{type(model).__name__} has no likelihood to evaluate")
    conditions = {"labels": labels} if model.is_conditional else {}
    dimensions = math.prod(model.config.data_shape)

    def summary(log_likelihood: Callable[..., torch.Tensor], **details: Any) -> dict[str, Any]:
        torch.manual_seed(seed)
        total = 0.0
        with model.evaluating(), torch.no_grad():
            for start in range(0, len(images), batch_size):
                chunk = {name: value[start : start + batch_size] for name, value in conditions.items()}
                total += float(log_likelihood(images[start : start + batch_size].to(model.device), **chunk).sum())
        nats = -total / len(images)
        result = {"nats": nats, "nats_per_dim": nats / dimensions, "examples": len(images), "seed": seed, **details}
        if discrete:
            result["bits_per_dim"] = nats / (dimensions * math.log(2))
        return result

    results: dict[str, dict[str, Any]] = {}
    elbo = getattr(model, "elbo", None)
    if elbo is not None:
        results["negative_elbo"] = summary(elbo, estimator="single-sample ELBO with analytic KL")
    details: dict[str, Any] = {"estimator": ESTIMATORS[model.log_prob_kind]}
    if model.log_prob_kind == "importance_weighted":
        details["importance_samples"] = model.config.importance_samples
    name = "negative_elbo" if model.log_prob_kind == "elbo" else "negative_log_likelihood"
    results[name] = summary(model.log_prob, **details)
    return results


def evaluate_losses(
    model: GenerativeModel, columns: dict[str, torch.Tensor], batch_size: int = 500, seed: int = 0
) -> dict[str, float]:
    """Every training loss of the model, averaged over a held-out split in eval mode."""
    torch.manual_seed(seed)
    size = len(next(iter(columns.values())))
    sums: dict[str, float] = {}
    with model.evaluating(), torch.no_grad():
        for start in range(0, size, batch_size):
            batch = {name: column[start : start + batch_size].to(model.device) for name, column in columns.items()}
            count = len(batch["x"])
            for name, value in model.loss(batch).items():
                sums[name] = sums.get(name, 0.0) + float(value) * count
    return {name: total / size for name, total in sums.items()}

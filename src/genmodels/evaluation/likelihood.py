"""Held-out likelihoods and bounds, batched, in nats and bits per dimension, named for what they are."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from typing import Any

import torch

from genmodels.io.progress import PhaseProgress
from genmodels.models.base import GenerativeModel

ESTIMATORS = {
    "exact": "exact log-likelihood",
    "hutchinson": "probability-flow ODE with Hutchinson's trace estimator (Grathwohl et al., 2019)",
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
    importance_samples: int | None = None,
) -> dict[str, dict[str, Any]]:
    """Test negative ELBO (where the model has ``elbo``) and negative ``log_prob``, each with its estimator.

    Bits per dimension are reported only for ``discrete`` data (e.g. binarized images), where the
    likelihood is a probability mass; for densities they would not be comparable.
    ``importance_samples`` replaces the model's K for this evaluation only (importance-weighted models).
    """
    if model.log_prob_kind not in ESTIMATORS:
        raise NotImplementedError(f"{type(model).__name__} has no likelihood to evaluate")
    conditions = {"labels": labels} if model.is_conditional else {}
    dimensions = math.prod(model.config.data_shape)

    def summary(name: str, log_likelihood: Callable[..., torch.Tensor], **details: Any) -> dict[str, Any]:
        torch.manual_seed(seed)
        total = 0.0
        samples = f" (K={details['importance_samples']})" if "importance_samples" in details else ""
        with model.evaluating(), torch.no_grad(), PhaseProgress(f"{name}{samples}", len(images), "examples") as shown:
            for start in range(0, len(images), batch_size):
                chunk = {name: value[start : start + batch_size] for name, value in conditions.items()}
                total += float(log_likelihood(images[start : start + batch_size].to(model.device), **chunk).sum())
                shown.update(min(len(images), start + batch_size))
        nats = -total / len(images)
        result = {"nats": nats, "nats_per_dim": nats / dimensions, "examples": len(images), "seed": seed, **details}
        if discrete:
            result["bits_per_dim"] = nats / (dimensions * math.log(2))
        return result

    results: dict[str, dict[str, Any]] = {}
    elbo = getattr(model, "elbo", None)
    if elbo is not None:
        results["negative_elbo"] = summary("negative_elbo", elbo, estimator="single-sample ELBO with analytic KL")
    name = "negative_elbo" if model.log_prob_kind == "elbo" else "negative_log_likelihood"
    with _importance_samples(model, importance_samples):
        details: dict[str, Any] = {"estimator": ESTIMATORS[model.log_prob_kind]}
        if model.log_prob_kind == "importance_weighted":
            details["importance_samples"] = model.config.importance_samples
        results[name] = summary(name, model.log_prob, **details)
    return results


@contextlib.contextmanager
def _importance_samples(model: GenerativeModel, samples: int | None) -> Iterator[None]:
    """The model's importance samples K set to ``samples`` for the block (None, or a model without K: unchanged)."""
    saved = getattr(model.config, "importance_samples", None)
    if samples is None or saved is None:
        yield
        return
    model.config.importance_samples = samples
    try:
        yield
    finally:
        model.config.importance_samples = saved


def evaluate_losses(
    model: GenerativeModel, columns: dict[str, torch.Tensor], batch_size: int = 500, seed: int = 0
) -> dict[str, float]:
    """Every training loss of the model, averaged over a held-out split in eval mode."""
    torch.manual_seed(seed)
    size = len(next(iter(columns.values())))
    sums: dict[str, float] = {}
    with model.evaluating(), torch.no_grad(), PhaseProgress("held-out losses", size, "examples") as shown:
        for start in range(0, size, batch_size):
            batch = {name: column[start : start + batch_size].to(model.device) for name, column in columns.items()}
            count = len(batch["x"])
            for name, value in model.loss(batch).items():
                sums[name] = sums.get(name, 0.0) + float(value) * count
            shown.update(start + count)
    return {name: total / size for name, total in sums.items()}

"""Held-out likelihoods (or their bounds) and losses, batched, in nats and bits per dimension."""

from __future__ import annotations

import math
from typing import Any

import torch

from genmodels.models.base import GenerativeModel

METRIC_NAMES = {"exact": "negative_log_likelihood", "elbo": "negative_elbo"}


def evaluate_likelihood(
    model: GenerativeModel, data: torch.Tensor, discrete: bool, batch_size: int = 500, seed: int = 0
) -> dict[str, Any]:
    """Mean ``-log_prob`` over ``data``, named for what it is (exact NLL or negative ELBO).

    Bits per dimension are reported only for ``discrete`` data (e.g. binarized images), where
    ``log_prob`` is a log probability mass; for densities they would not be comparable.
    """
    if model.log_prob_kind not in METRIC_NAMES:
        raise NotImplementedError(f"{type(model).__name__} has no likelihood to evaluate")
    torch.manual_seed(seed)
    total = 0.0
    with torch.no_grad():
        for chunk in data.split(batch_size):
            total += float(model.log_prob(chunk.to(model.device)).double().sum())
    nats = -total / len(data)
    dimensions = math.prod(model.config.data_shape)
    result: dict[str, Any] = {
        "metric": METRIC_NAMES[model.log_prob_kind],
        "nats": nats,
        "nats_per_dim": nats / dimensions,
        "examples": len(data),
        "seed": seed,
    }
    if discrete:
        result["bits_per_dim"] = nats / (dimensions * math.log(2))
    return result


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

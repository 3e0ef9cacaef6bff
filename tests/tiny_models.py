"""Small deterministic models for testing the trainer: no sampling noise in their losses."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from genmodels.models.base import Batch, GenerativeModel, ModelConfig
from genmodels.models.registry import MODEL_REGISTRY, register_model


@dataclass
class DiagonalGaussianConfig(ModelConfig):
    hidden_dim: int = 16
    nan_after_calls: int | None = None
    """Make the loss NaN after this many training calls, to test divergence handling."""


class DiagonalGaussian(GenerativeModel):
    """x ~ N(mu, diag(sigma^2)) with mu, log sigma from a tiny MLP of a constant input: exact log_prob."""

    config_class = DiagonalGaussianConfig
    log_prob_kind = "exact"

    def __init__(self, config: DiagonalGaussianConfig) -> None:
        super().__init__(config)
        dimensions = math.prod(config.data_shape)
        self.net = nn.Sequential(
            nn.Linear(1, config.hidden_dim), nn.Tanh(), nn.Linear(config.hidden_dim, 2 * dimensions)
        )
        self.register_buffer("calls", torch.zeros((), dtype=torch.long))

    def _distribution(self) -> torch.distributions.Normal:
        mean, log_scale = self.net(torch.ones(1, 1, device=self.device)).chunk(2, dim=-1)
        return torch.distributions.Normal(mean.squeeze(0), log_scale.squeeze(0).exp())

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        return self._distribution().log_prob(self.check_input(x).flatten(1)).sum(-1)

    def loss(self, batch: Batch, phase: str | None = None) -> dict[str, torch.Tensor]:
        loss = -self.log_prob(batch["x"]).mean()
        if self.training:
            self.calls += 1
            if self.config.nan_after_calls is not None and int(self.calls) > self.config.nan_after_calls:
                loss = loss * float("nan")
        return {"loss": loss}

    def _sample(self, n: int, generator: torch.Generator | None, **controls: Any) -> torch.Tensor:
        distribution = self._distribution()
        noise = torch.randn(n, distribution.loc.numel(), generator=generator, device=self.device)
        return (distribution.loc + distribution.scale * noise).view(n, *self.config.data_shape)


if "test-gaussian" not in MODEL_REGISTRY:
    register_model("test-gaussian")(DiagonalGaussian)

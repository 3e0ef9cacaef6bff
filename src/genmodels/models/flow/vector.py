"""Normalizing flows over vectors: an invertible map onto a standard normal, so ``log_prob`` is exact.

The transforms are zuko's (Rozet et al., 2022): a neural spline flow, autoregressive
rational-quadratic splines (Durkan et al., 2019), or a masked autoregressive flow of affine steps
(Papamakarios et al., 2017). Before them sits a learned per-feature affine map initialised from the
first training batch's mean and standard deviation (as ActNorm, Kingma & Dhariwal, 2018), so raw
vectors of any scale land where the splines act (within ``bound`` of zero).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
import zuko
from torch import nn

from genmodels.errors import ConfigError
from genmodels.models.base import Batch, GenerativeModel, ModelConfig
from genmodels.models.registry import register_model

TRANSFORMS = ("nsf", "maf")


@dataclass
class FlowConfig(ModelConfig):
    data_shape: tuple[int, ...] = (2,)
    transform: str = "nsf"
    """``nsf``: neural spline flow (Durkan et al., 2019); ``maf``: masked autoregressive flow
    (Papamakarios et al., 2017)."""
    transforms: int = 3
    """Autoregressive transforms, each in a freshly permuted feature order."""
    hidden_features: tuple[int, ...] = (64, 64)
    """Hidden layers of each transform's masked MLP."""
    bins: int = 8
    """Spline segments per feature (``nsf`` only)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.hidden_features = tuple(int(size) for size in self.hidden_features)
        if len(self.data_shape) != 1 or self.data_shape[0] < 1:
            raise ConfigError(f"a flow models vectors of shape (features,), got data_shape {self.data_shape}")
        if self.transform not in TRANSFORMS:
            raise ConfigError(f"transform must be one of {TRANSFORMS}, got {self.transform!r}")
        if self.transforms < 1 or self.bins < 1 or not self.hidden_features or min(self.hidden_features) < 1:
            raise ConfigError(
                f"a flow needs at least one transform, one bin and non-empty hidden layers, got transforms "
                f"{self.transforms}, bins {self.bins}, hidden_features {self.hidden_features}"
            )


def build_transforms(config: FlowConfig) -> zuko.flows.Flow:
    """zuko's flow for the config, with a standard normal base; ``flow()`` is the distribution."""
    features = config.data_shape[0]
    common = {"transforms": config.transforms, "hidden_features": config.hidden_features, "randperm": True}
    if config.transform == "nsf":
        return zuko.flows.NSF(features, bins=config.bins, **common)
    return zuko.flows.MAF(features, **common)


@register_model("flow")
class Flow(GenerativeModel):
    """A normalizing flow over vectors (2-D points, features): exact log-likelihood and one-pass sampling noise."""

    config_class = FlowConfig
    log_prob_kind = "exact"
    sampling_controls: ClassVar[tuple[str, ...]] = ()
    recommended_data: ClassVar[dict[str, Any]] = {"binarize": False}
    recommended_training: ClassVar[dict[str, Any]] = {
        "learning_rate": 1e-3,
        "batch_size": 256,
        "max_steps": 3000,
        "val_every": 100,
    }

    def __init__(self, config: FlowConfig) -> None:
        super().__init__(config)
        features = config.data_shape[0]
        self.shift = nn.Parameter(torch.zeros(features))
        self.log_scale = nn.Parameter(torch.zeros(features))
        self.register_buffer("normalization_fitted", torch.tensor(False))
        self.flow = build_transforms(config)

    @torch.no_grad()
    def fit_normalization(self, x: torch.Tensor) -> None:
        """Start the affine map at the batch's mean and standard deviation (data-dependent initialisation)."""
        self.shift.copy_(x.mean(0))
        self.log_scale.copy_(x.std(0).clamp_min(1e-3).log() if len(x) > 1 else torch.zeros_like(self.log_scale))
        self.normalization_fitted.fill_(True)

    def flow_log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Exact log density of continuous rows by the change of variables: the standard normal density of
        f(x) plus log |det df/dx|, the affine map's share being ``-sum(log_scale)``."""
        z = (x - self.shift) * torch.exp(-self.log_scale)
        return self.flow().log_prob(z) - self.log_scale.sum()

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Exact log p(x) in nats, ``(batch,)``."""
        return self.flow_log_prob(self.check_input(x))

    def training_input(self, batch: Batch) -> torch.Tensor:
        """The rows the flow fits (a table flow dequantizes its discrete columns here)."""
        return self.check_input(batch["x"])

    def loss(self, batch: Batch, phase: str | None = None) -> dict[str, torch.Tensor]:
        x = self.training_input(batch)
        if self.training and not bool(self.normalization_fitted):
            self.fit_normalization(x)
        nll = -self.flow_log_prob(x).mean()
        return {"loss": nll, "nll_per_dim": nll / self.config.data_shape[0]}

    def _sample(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        """Base noise through the inverse transforms; the same generator seed gives the same rows."""
        noise = torch.randn(n, self.config.data_shape[0], generator=generator).to(self.device)
        z = self.flow().transform.inv(noise)
        return z * torch.exp(self.log_scale) + self.shift

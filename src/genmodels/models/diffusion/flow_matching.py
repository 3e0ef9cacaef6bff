"""Flow matching on the straight path from noise to data (rectified flow).

The network regresses the velocity noise - data of x_t = (1 - t) data + t noise at t ~ U(0, 1)
(Lipman et al., 2023; Liu et al., 2023); its minimiser is the velocity of a probability-flow ODE
carrying the noise distribution to the data distribution. With ``coupling = "ot"`` noise and data
are paired within each batch by exact optimal transport (Tong et al., 2024).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch.nn import functional as F

from genmodels.errors import ConfigError
from genmodels.models.diffusion.base import DenoisingConfig, DenoisingModel
from genmodels.models.diffusion.coupling import ot_pair_noise
from genmodels.models.diffusion.paths import LinearPath
from genmodels.models.registry import register_model

COUPLINGS = ("independent", "ot")
TIME_SCALE = 1000.0
"""The network sees t times this, the range of DDPM's timestep indices its embedding is made for."""


@dataclass
class FlowMatchingConfig(DenoisingConfig):
    coupling: str = "independent"
    """``independent`` noise per example, or ``ot``: minibatch optimal-transport pairs."""
    sampler: str = "euler"
    steps: int = 32

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.coupling not in COUPLINGS:
            raise ConfigError(f"coupling must be one of {', '.join(COUPLINGS)}, got {self.coupling!r}")


@register_model("flow-matching")
class FlowMatching(DenoisingModel):
    """Flow matching / rectified flow: the network predicts the velocity dx/dt."""

    config_class = FlowMatchingConfig
    path: ClassVar[LinearPath] = LinearPath()

    def network_input(self, x: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return x, t * TIME_SCALE

    def estimates(self, output: torch.Tensor, x: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        t = t.view(-1, *[1] * (x.dim() - 1))
        return x - t * output, x + (1.0 - t) * output

    def training_loss(self, x: torch.Tensor, labels: torch.Tensor | None) -> dict[str, torch.Tensor]:
        noise = torch.randn_like(x)
        if self.config.coupling == "ot":
            noise = ot_pair_noise(x, noise)
        t = torch.rand(len(x), device=x.device, dtype=x.dtype)
        t_rows = t.view(-1, *[1] * (x.dim() - 1))
        noisy = (1.0 - t_rows) * x + t_rows * noise
        network_input, level = self.network_input(noisy, t)
        loss = F.mse_loss(self.network(network_input, level, labels), noise - x)
        return {"loss": loss}

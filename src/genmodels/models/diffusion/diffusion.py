"""Denoising diffusion: EDM (Karras et al., 2022) or DDPM's noise prediction on the cosine schedule.

``edm``: the denoiser D(x, sigma) = c_skip x + c_out F(c_in x, c_noise) with the paper's
preconditioning, noise levels ln sigma ~ N(-1.2, 1.2^2) in training, and its loss weighting (built
into the regression target); sampled by Heun's method on sigma_i of their schedule.

``ddpm``: the network predicts the noise of x_t = sqrt(alpha_bar) data + sqrt(1 - alpha_bar) noise
(Ho et al., 2020), alpha_bar on the cosine schedule (Nichol & Dhariwal, 2021), t ~ U(0, 1) in
continuous time; sampled with DDIM (Song et al., 2021), the data estimate clipped to the data range.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch.nn import functional as F

from genmodels.errors import ConfigError
from genmodels.models.diffusion.base import DenoisingConfig, DenoisingModel
from genmodels.models.diffusion.paths import CosinePath, KarrasPath, NoisePath
from genmodels.models.registry import register_model

FORMULATIONS = ("edm", "ddpm")
SIGMA_DATA = 0.5
"""EDM's data standard deviation: images in [-1, 1] and standardised vectors are near it."""
LOG_SIGMA_MEAN, LOG_SIGMA_STD = -1.2, 1.2
"""EDM's training distribution of ln sigma."""
TIME_SCALE = 1000.0
"""DDPM's network sees t times this (its timestep index); EDM's sees 250 ln sigma, on the same scale."""


@dataclass
class DiffusionConfig(DenoisingConfig):
    formulation: str = "edm"
    """``edm`` (Karras et al., 2022) or ``ddpm`` (noise prediction, cosine schedule)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.formulation not in FORMULATIONS:
            raise ConfigError(f"formulation must be one of {', '.join(FORMULATIONS)}, got {self.formulation!r}")


@register_model("diffusion")
class Diffusion(DenoisingModel):
    """A diffusion model in the EDM formulation or as DDPM with a cosine schedule."""

    config_class = DiffusionConfig

    def __init__(self, config: DiffusionConfig) -> None:
        super().__init__(config)
        self.path: NoisePath = KarrasPath() if config.formulation == "edm" else CosinePath()

    @property
    def is_edm(self) -> bool:
        return self.config.formulation == "edm"

    def clip_denoised(self) -> bool:
        return not self.is_edm

    def _rows(self, value: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return value.view(-1, *[1] * (x.dim() - 1))

    def network_input(self, x: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.is_edm:  # t is sigma
            scale = 1.0 / torch.sqrt(t.square() + SIGMA_DATA**2)
            return x * self._rows(scale, x), t.log() * (TIME_SCALE / 4.0)
        return x, t * TIME_SCALE

    def estimates(self, output: torch.Tensor, x: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.is_edm:
            sigma = self._rows(t, x)
            skip = SIGMA_DATA**2 / (sigma.square() + SIGMA_DATA**2)
            out = sigma * SIGMA_DATA / torch.sqrt(sigma.square() + SIGMA_DATA**2)
            denoised = skip * x + out * output
            return denoised, (x - denoised) / sigma
        a, b = (self._rows(value, x) for value in self.path.coefficients(t))
        return (x - b * output) / a, output

    def training_loss(self, x: torch.Tensor, labels: torch.Tensor | None) -> dict[str, torch.Tensor]:
        noise = torch.randn_like(x)
        if self.is_edm:
            sigma = torch.exp(LOG_SIGMA_MEAN + LOG_SIGMA_STD * torch.randn(len(x), device=x.device, dtype=x.dtype))
            rows = self._rows(sigma, x)
            noisy = x + rows * noise
            skip = SIGMA_DATA**2 / (rows.square() + SIGMA_DATA**2)
            out = rows * SIGMA_DATA / torch.sqrt(rows.square() + SIGMA_DATA**2)
            network_input, level = self.network_input(noisy, sigma)
            target = (x - skip * noisy) / out  # the weighted denoising loss of EDM, eq. 8 with lambda = 1 / c_out^2
            return {"loss": F.mse_loss(self.network(network_input, level, labels), target)}
        t = torch.rand(len(x), device=x.device, dtype=x.dtype) * self.path.noise_end
        a, b = (self._rows(value, x) for value in self.path.coefficients(t))
        network_input, level = self.network_input(a * x + b * noise, t)
        return {"loss": F.mse_loss(self.network(network_input, level, labels), noise)}

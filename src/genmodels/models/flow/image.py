"""A multi-scale normalizing flow over images (Glow: Kingma & Dhariwal, 2018; RealNVP: Dinh et al., 2017).

The transforms are normflows' (Stimper et al., 2023): each level is ``blocks`` Glow steps (ActNorm,
an invertible 1x1 convolution, an affine coupling), then a squeeze that trades space for channels;
after each level but the last, half of the channels leave as latent variables with their own
diagonal Gaussian, so later levels work on fewer numbers (the multi-scale architecture).

Pixels are 8-bit levels in [0, 1]; the flow sees them dequantized, ``(k + u) / 256`` with
``u ~ U[0, 1)`` (Theis et al., 2016), and centred. ``log_prob`` is the bound this gives on the
probability of the discrete image, ``E_u log p(y) - D log 256``, averaged over fixed noise draws,
so bits per dimension are comparable with a 256-level PixelCNN.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Any, ClassVar

import normflows
import torch

from genmodels.errors import ConfigError
from genmodels.io.validation import PositiveInt
from genmodels.models.base import Batch, GenerativeModel, ModelConfig, evaluation_result
from genmodels.models.registry import register_model

PIXEL_LEVELS = 256


@dataclass
class ImageFlowConfig(ModelConfig):
    data_shape: tuple[int, ...] = (1, 28, 28)
    levels: PositiveInt = 2
    """Squeezes of the image: its sides must be divisible by 2 to this power."""
    blocks: PositiveInt = 8
    """Glow steps per level."""
    hidden_channels: PositiveInt = 64
    """Channels of each coupling layer's convolutional network."""
    dequantization_samples: PositiveInt = 1
    """Noise draws averaged in ``log_prob`` (its bound tightens, in expectation, as they grow)."""
    dequantization_seed: int = 0
    """Seed of those draws, so ``log_prob`` of the same images is the same number."""
    pixel_levels: int = PIXEL_LEVELS
    """Grey levels of the data (fixed: 8-bit images); read by evaluation to report bits per dimension."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if len(self.data_shape) != 3:
            raise ConfigError(f"an image flow models images (channels, height, width), got {self.data_shape}")
        side = 2**self.levels
        if self.data_shape[1] % side or self.data_shape[2] % side:
            raise ConfigError(
                f"image sides must be divisible by 2**levels = {side} (levels {self.levels}), got {self.data_shape}"
            )
        if self.pixel_levels != PIXEL_LEVELS:
            raise ConfigError(f"the image flow models 8-bit images: pixel_levels must be 256, got {self.pixel_levels}")


def build_multiscale_flow(config: ImageFlowConfig) -> normflows.MultiscaleFlow:
    """normflows' multi-scale Glow for ``config``: level 0 is the deepest (smallest) one, as normflows orders them."""
    channels, height, width = config.data_shape
    levels = config.levels
    bases, flows, merges = [], [], []
    for level in range(levels):
        step_channels = channels * 2 ** (levels + 1 - level)
        steps: list[normflows.flows.Flow] = [
            normflows.flows.GlowBlock(step_channels, config.hidden_channels, split_mode="channel")
            for _ in range(config.blocks)
        ]
        steps.append(normflows.flows.Squeeze())
        flows.append(steps)
        depth = levels if level == 0 else levels - level
        latent_channels = channels * 2 ** (levels + 1) if level == 0 else channels * 2 ** (levels - level)
        bases.append(normflows.distributions.DiagGaussian((latent_channels, height // 2**depth, width // 2**depth)))
        if level > 0:
            merges.append(normflows.flows.Merge())
    return normflows.MultiscaleFlow(bases, flows, merges, class_cond=False)


@register_model("image-flow")
class ImageFlow(GenerativeModel):
    """Multi-scale Glow over dequantized 8-bit images: a bound on log p(x) in bits per dimension, one-pass sampling."""

    config_class = ImageFlowConfig
    log_prob_kind = "elbo"
    sampling_controls: ClassVar[tuple[str, ...]] = ("temperature",)
    recommended_data: ClassVar[dict[str, Any]] = {"binarize": False}
    recommended_training: ClassVar[dict[str, Any]] = {
        "learning_rate": 1e-3,
        "batch_size": 64,
        "max_steps": 5000,
        "val_every": 250,
        "gradient_clip_norm": 100.0,
    }

    def __init__(self, config: ImageFlowConfig) -> None:
        super().__init__(config)
        with warnings.catch_warnings():  # normflows' LU-parametrised 1x1 convolutions start from torch.lu
            warnings.filterwarnings("ignore", message="torch.lu is deprecated", category=UserWarning)
            self.flow = build_multiscale_flow(config)

    def check_levels(self, x: torch.Tensor) -> torch.Tensor:
        """Images whose values are 8-bit levels scaled to [0, 1], as the data pipeline gives them."""
        x = self.check_input(x)
        if x.min() < 0 or x.max() > 1:
            raise ConfigError("the image flow expects pixel values in [0, 1] (8-bit levels / 255)")
        return x

    def dequantize(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """``(level + u) / 256 - 1/2`` with ``u ~ U[0, 1)``: continuous, centred values for the flow."""
        levels = torch.round(x * (PIXEL_LEVELS - 1))
        noise = torch.rand(x.shape, generator=generator).to(x.device)
        return (levels + noise) / PIXEL_LEVELS - 0.5

    def discrete_log_prob(self, y: torch.Tensor) -> torch.Tensor:
        """log p(y) of dequantized images minus D log 256: the bound on the discrete image's log-probability."""
        return self.flow.log_prob(y, None) - math.prod(self.config.data_shape) * math.log(PIXEL_LEVELS)

    def loss(self, batch: Batch, phase: str | None = None) -> dict[str, torch.Tensor]:
        nll = -self.discrete_log_prob(self.dequantize(self.check_levels(batch["x"]))).mean()
        return {"loss": nll, "bits_per_dim": nll / (math.prod(self.config.data_shape) * math.log(2))}

    @evaluation_result
    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Mean over fixed noise draws u of log p((x + u) / 256) - D log 256 in nats: a lower bound on log P(x)."""
        x = self.check_levels(x)
        generator = torch.Generator().manual_seed(self.config.dequantization_seed)
        draws = [
            self.discrete_log_prob(self.dequantize(x, generator)) for _ in range(self.config.dequantization_samples)
        ]
        return torch.stack(draws).mean(0)

    def _sample(self, n: int, generator: torch.Generator | None, temperature: float = 1.0) -> torch.Tensor:
        """Each level's Gaussian noise (scaled by ``temperature``) through the flow, then back to [0, 1] levels."""
        if not temperature > 0:
            raise ConfigError(f"temperature must be positive, got {temperature}")
        latents = []
        for base in self.flow.q0:
            noise = torch.randn((n, *base.shape), generator=generator).to(self.device)
            latents.append(base.loc + torch.exp(base.log_scale) * temperature * noise)
        y, _ = self.flow.forward_and_log_det(latents)
        return torch.floor((y + 0.5).clamp(0, 1 - 1e-6) * PIXEL_LEVELS) / (PIXEL_LEVELS - 1)

"""DCGAN (Radford et al., 2016) and WGAN-GP (Gulrajani et al., 2017) for grey or colour images.

Generator: a dense layer to ``2 * generator_channels`` maps at a quarter of the image side, then
two stride-2 transposed convolutions, with batch norm and ReLU between and Tanh at the end.
Discriminator: two stride-2 convolutions with LeakyReLU(0.2), batch norm (DCGAN) or layer norm
(WGAN-GP: batch norm would couple the examples the gradient penalty treats one by one) on the
second, then a dense layer to one logit. Image sides must be divisible by 4 (8, 28, 32, 64, ...).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from torch import nn

from genmodels.errors import ConfigError
from genmodels.io.validation import PositiveInt
from genmodels.models.gan.base import BaseGAN, BaseGANConfig
from genmodels.models.registry import register_model

DISCRIMINATOR_NORMS = ("batch", "layer", "none")


@dataclass
class DCGANConfig(BaseGANConfig):
    generator_channels: PositiveInt = 64
    discriminator_channels: PositiveInt = 64
    discriminator_norm: str = "batch"
    """``batch``, ``layer`` (GroupNorm with one group) or ``none``."""
    ema_decay: float = 0.999

    def __post_init__(self) -> None:
        super().__post_init__()
        if len(self.data_shape) != 3 or self.data_shape[1] % 4 or self.data_shape[2] % 4:
            raise ConfigError(
                f"a DCGAN needs images (channels, height, width) with sides divisible by 4, got {self.data_shape}; "
                "resize the data (data.image_size)"
            )
        if self.discriminator_norm not in DISCRIMINATOR_NORMS:
            raise ConfigError(
                f"discriminator_norm must be one of {', '.join(DISCRIMINATOR_NORMS)}, got {self.discriminator_norm!r}"
            )
        if self.discriminator_norm == "batch" and self.gradient_penalty > 0:
            raise ConfigError("a gradient penalty needs discriminator_norm 'layer' or 'none', not batch norm")


@register_model("dcgan")
class DCGAN(BaseGAN):
    """Convolutional GAN; sampling uses the EMA generator by default (``ema_decay`` 0.999)."""

    config_class = DCGANConfig

    def __init__(self, config: DCGANConfig) -> None:
        super().__init__(config)
        channels, height, width = config.data_shape
        small = (height // 4, width // 4)
        wide, narrow = 2 * config.generator_channels, config.generator_channels
        self.generator = nn.Sequential(
            nn.Linear(config.latent_dim + config.num_classes, wide * small[0] * small[1]),
            nn.Unflatten(1, (wide, *small)),
            nn.BatchNorm2d(wide),
            nn.ReLU(),
            nn.ConvTranspose2d(wide, narrow, 4, stride=2, padding=1),
            nn.BatchNorm2d(narrow),
            nn.ReLU(),
            nn.ConvTranspose2d(narrow, channels, 4, stride=2, padding=1),
            nn.Tanh(),
        )
        first, second = config.discriminator_channels, 2 * config.discriminator_channels
        norm = {
            "batch": lambda: nn.BatchNorm2d(second),
            "layer": lambda: nn.GroupNorm(1, second),
            "none": nn.Identity,
        }[config.discriminator_norm]
        self.discriminator = nn.Sequential(
            nn.Conv2d(channels, first, 4, stride=2, padding=1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(first, second, 4, stride=2, padding=1),
            norm(),
            nn.LeakyReLU(0.2),
            nn.Flatten(),
            nn.Linear(second * small[0] * small[1], 1),
        )
        self.build_networks()


@dataclass
class WGANGPConfig(DCGANConfig):
    loss: str = "wasserstein"
    gradient_penalty: float = 10.0
    discriminator_steps: int = 5
    discriminator_norm: str = "layer"


@register_model("wgan-gp")
class WGANGP(DCGAN):
    """DCGAN networks trained as a Wasserstein GAN with gradient penalty: 5 critic steps per generator step."""

    config_class = WGANGPConfig
    recommended_training: ClassVar[dict[str, Any]] = {"learning_rate": 1e-4, "betas": (0.0, 0.9), "monitor": None}

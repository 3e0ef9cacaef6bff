"""A convolutional VAE: strided convolutions down, transposed convolutions up (as in DCGAN-style VAEs).

Each stage halves (encoder) or doubles (decoder) the image side, so the side must be divisible by
``2 ** len(channels)``: 28x28 and 32x32 with two stages, 64x64 with up to six.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from torch import nn

from genmodels.errors import ConfigError
from genmodels.io.validation import PositiveInt, Sizes
from genmodels.models.registry import register_model
from genmodels.models.vae.base import BaseVAE, VAEConfig


@dataclass
class ConvVAEConfig(VAEConfig):
    hidden_dim: PositiveInt = 256
    latent_dim: PositiveInt = 16
    channels: Sizes = (32, 64)
    """Feature maps of the encoder stages (the decoder mirrors them)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if len(self.data_shape) != 3:
            raise ConfigError(f"a convolutional VAE needs images (channels, height, width), got {self.data_shape}")
        factor = 2 ** len(self.channels)
        if self.data_shape[1] % factor or self.data_shape[2] % factor:
            raise ConfigError(
                f"image side {self.data_shape[1:]} must be divisible by 2**len(channels) = {factor}; "
                "use fewer channels stages or resize the data (data.image_size)"
            )


@register_model("conv-vae")
class ConvVAE(BaseVAE):
    """Convolutional VAE for grey or colour images; same likelihoods, bounds and options as the MLP VAE."""

    config_class = ConvVAEConfig

    def _bottom_shape(self) -> tuple[int, int, int]:
        image_channels, height, width = self.config.data_shape
        factor = 2 ** len(self.config.channels)
        return self.config.channels[-1], height // factor, width // factor

    def build_encoder(self) -> nn.Module:
        layers: list[nn.Module] = []
        in_channels = self.config.data_shape[0]
        for width in self.config.channels:
            layers += [nn.Conv2d(in_channels, width, kernel_size=4, stride=2, padding=1), nn.ReLU()]
            in_channels = width
        layers += [nn.Flatten(), nn.Linear(math.prod(self._bottom_shape()), self.config.hidden_dim), nn.ReLU()]
        return nn.Sequential(*layers)

    def build_decoder(self, input_dim: int) -> nn.Module:
        bottom = self._bottom_shape()
        layers: list[nn.Module] = [
            nn.Linear(input_dim, self.config.hidden_dim),
            nn.ReLU(),
            nn.Linear(self.config.hidden_dim, math.prod(bottom)),
            nn.ReLU(),
            nn.Unflatten(1, bottom),  # (batch, channels[-1], height / 2**stages, width / 2**stages)
        ]
        widths = list(reversed(self.config.channels))
        for in_channels, out_channels in zip(widths, [*widths[1:], None], strict=True):
            if out_channels is None:
                layers.append(
                    nn.ConvTranspose2d(in_channels, self.config.data_shape[0], kernel_size=4, stride=2, padding=1)
                )
            else:
                layers += [nn.ConvTranspose2d(in_channels, out_channels, kernel_size=4, stride=2, padding=1), nn.ReLU()]
        layers.append(nn.Flatten())
        return nn.Sequential(*layers)

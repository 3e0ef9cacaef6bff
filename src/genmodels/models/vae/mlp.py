"""The MLP VAE of the founding example (Kingma & Welling, 2014): one Dense ReLU layer each way."""

from __future__ import annotations

import math

from torch import nn

from genmodels.models.registry import register_model
from genmodels.models.vae.base import BaseVAE


@register_model("vae")
class VAE(BaseVAE):
    """MLP VAE as in the founding example: Dense(hidden) ReLU encoder and decoder."""

    def build_encoder(self) -> nn.Module:
        return nn.Sequential(
            nn.Flatten(), nn.Linear(math.prod(self.config.data_shape), self.config.hidden_dim), nn.ReLU()
        )

    def build_decoder(self, input_dim: int) -> nn.Module:
        return nn.Sequential(
            nn.Linear(input_dim, self.config.hidden_dim),
            nn.ReLU(),
            nn.Linear(self.config.hidden_dim, math.prod(self.config.data_shape)),
        )

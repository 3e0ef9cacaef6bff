"""The MLP generative adversarial network (Goodfellow et al., 2014), as in the founding example.

Generator: latent 100 -> Dense 128 ReLU -> Dense Tanh, reshaped to the data's shape. Discriminator:
Dense 128 LeakyReLU(0.2) -> 1 logit, trained with the numerically stable logits loss
(``binary_cross_entropy_with_logits``), the generator with the non-saturating loss. Every option of
:class:`~genmodels.models.gan.base.BaseGANConfig` (hinge or Wasserstein loss, penalties,
spectral norm, EMA, labels) applies; the defaults are the founding example's. Works on any data
shape, e.g. the 2-D points of the ``grid25`` and ``ring8`` mode-collapse test beds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from torch import nn

from genmodels.io.validation import PositiveInt
from genmodels.models.gan.base import BaseGAN, BaseGANConfig
from genmodels.models.registry import register_model


@dataclass
class GANConfig(BaseGANConfig):
    generator_hidden_dim: PositiveInt = 128
    discriminator_hidden_dim: PositiveInt = 128


@register_model("gan")
class GAN(BaseGAN):
    """MLP GAN (see :class:`~genmodels.models.gan.base.BaseGAN` for losses and scoring)."""

    config_class = GANConfig

    def __init__(self, config: GANConfig) -> None:
        super().__init__(config)
        data_dim = math.prod(config.data_shape)
        self.generator = nn.Sequential(
            nn.Linear(config.latent_dim + config.num_classes, config.generator_hidden_dim),
            nn.ReLU(),
            nn.Linear(config.generator_hidden_dim, data_dim),
            nn.Tanh(),
        )
        self.discriminator = nn.Sequential(
            nn.Flatten(),
            nn.Linear(data_dim, config.discriminator_hidden_dim),
            nn.LeakyReLU(0.2),
            nn.Linear(config.discriminator_hidden_dim, 1),
        )
        self.build_networks()

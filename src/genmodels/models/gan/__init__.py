"""GANs: the adversarial losses, penalties and EMA in :mod:`~genmodels.models.gan.base`, one module per network."""

from genmodels.models.gan.base import BaseGAN, BaseGANConfig
from genmodels.models.gan.dcgan import DCGAN, WGANGP, DCGANConfig, WGANGPConfig
from genmodels.models.gan.mlp import GAN, GANConfig

__all__ = ["DCGAN", "GAN", "WGANGP", "BaseGAN", "BaseGANConfig", "DCGANConfig", "GANConfig", "WGANGPConfig"]

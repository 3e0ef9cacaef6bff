"""Variational autoencoders: the shared maths in :mod:`~genmodels.models.vae.base`, one module per network."""

from genmodels.models.vae.base import BaseVAE, VAEConfig
from genmodels.models.vae.conv import ConvVAE, ConvVAEConfig
from genmodels.models.vae.mlp import VAE
from genmodels.models.vae.smiles import SmilesVAE, SmilesVAEConfig

__all__ = ["VAE", "BaseVAE", "ConvVAE", "ConvVAEConfig", "SmilesVAE", "SmilesVAEConfig", "VAEConfig"]

"""Variational autoencoders: the shared maths in :mod:`~genmodels.models.vae.base`, one module per network."""

from genmodels.lazy import lazy_attributes

_EXPORTS = {
    "BaseVAE": "genmodels.models.vae.base",
    "VAEConfig": "genmodels.models.vae.base",
    "ConvVAE": "genmodels.models.vae.conv",
    "ConvVAEConfig": "genmodels.models.vae.conv",
    "VAE": "genmodels.models.vae.mlp",
    "SmilesVAE": "genmodels.models.vae.smiles",
    "SmilesVAEConfig": "genmodels.models.vae.smiles",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_attributes(__name__, _EXPORTS)

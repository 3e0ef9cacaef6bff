"""GANs: the adversarial losses, penalties and EMA in :mod:`~genmodels.models.gan.base`, one module per network."""

from genmodels.lazy import lazy_attributes

_EXPORTS = {
    "BaseGAN": "genmodels.models.gan.base",
    "BaseGANConfig": "genmodels.models.gan.base",
    "DCGAN": "genmodels.models.gan.dcgan",
    "WGANGP": "genmodels.models.gan.dcgan",
    "DCGANConfig": "genmodels.models.gan.dcgan",
    "WGANGPConfig": "genmodels.models.gan.dcgan",
    "GAN": "genmodels.models.gan.mlp",
    "GANConfig": "genmodels.models.gan.mlp",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_attributes(__name__, _EXPORTS)

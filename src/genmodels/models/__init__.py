"""Model families behind one interface, one package per family.

- :mod:`genmodels.models.vae`: variational autoencoders (MLP, convolutional, SMILES).
- :mod:`genmodels.models.gan`: GANs (MLP, DCGAN, WGAN-GP) and their adversarial losses.
- :mod:`genmodels.models.autoregressive`: MADE, PixelCNN, GPT, CharRNN.
- :mod:`genmodels.models.tabular`: tabular VAE and MADE over preprocessed tables.
- :mod:`genmodels.models.flow`: normalizing flows over vectors and tables (exact likelihoods).
- :mod:`genmodels.models.diffusion`: flow matching and diffusion (EDM, DDPM) on images and vectors.

The interface is :class:`~genmodels.models.base.GenerativeModel`; names resolve to classes through
:mod:`genmodels.models.registry`. Family classes are imported on first use.
"""

from genmodels.lazy import lazy_attributes
from genmodels.models import autoregressive, diffusion, flow, gan, tabular, vae

_EXPORTS = {
    "Batch": "genmodels.models.base",
    "GenerativeModel": "genmodels.models.base",
    "ModelConfig": "genmodels.models.base",
    "TrainingPhase": "genmodels.models.base",
    "MODEL_REGISTRY": "genmodels.models.registry",
    "build_model": "genmodels.models.registry",
    "get_model_class": "genmodels.models.registry",
    "register_model": "genmodels.models.registry",
    **vae._EXPORTS,
    **gan._EXPORTS,
    **autoregressive._EXPORTS,
    **tabular._EXPORTS,
    **flow._EXPORTS,
    **diffusion._EXPORTS,
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_attributes(__name__, _EXPORTS)

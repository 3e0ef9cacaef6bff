"""Model families behind one interface, one package per family.

- :mod:`genmodels.models.vae`: variational autoencoders (MLP, convolutional, SMILES).
- :mod:`genmodels.models.gan`: GANs (MLP, DCGAN, WGAN-GP) and their adversarial losses.
- :mod:`genmodels.models.autoregressive`: MADE, PixelCNN, GPT, CharRNN.
- :mod:`genmodels.models.tabular`: tabular VAE and MADE over preprocessed tables.

The interface is :class:`~genmodels.models.base.GenerativeModel`; names resolve to classes through
:mod:`genmodels.models.registry`. Family classes are imported on first use.
"""

from genmodels.lazy import lazy_attributes

_EXPORTS = {
    "Batch": "genmodels.models.base",
    "GenerativeModel": "genmodels.models.base",
    "ModelConfig": "genmodels.models.base",
    "TrainingPhase": "genmodels.models.base",
    "MODEL_REGISTRY": "genmodels.models.registry",
    "build_model": "genmodels.models.registry",
    "get_model_class": "genmodels.models.registry",
    "register_model": "genmodels.models.registry",
    "BaseVAE": "genmodels.models.vae.base",
    "VAEConfig": "genmodels.models.vae.base",
    "VAE": "genmodels.models.vae.mlp",
    "ConvVAE": "genmodels.models.vae.conv",
    "ConvVAEConfig": "genmodels.models.vae.conv",
    "SmilesVAE": "genmodels.models.vae.smiles",
    "SmilesVAEConfig": "genmodels.models.vae.smiles",
    "BaseGAN": "genmodels.models.gan.base",
    "BaseGANConfig": "genmodels.models.gan.base",
    "GAN": "genmodels.models.gan.mlp",
    "GANConfig": "genmodels.models.gan.mlp",
    "DCGAN": "genmodels.models.gan.dcgan",
    "DCGANConfig": "genmodels.models.gan.dcgan",
    "WGANGP": "genmodels.models.gan.dcgan",
    "WGANGPConfig": "genmodels.models.gan.dcgan",
    "MADE": "genmodels.models.autoregressive.made",
    "MADEConfig": "genmodels.models.autoregressive.made",
    "PixelCNN": "genmodels.models.autoregressive.pixelcnn",
    "PixelCNNConfig": "genmodels.models.autoregressive.pixelcnn",
    "SequenceConfig": "genmodels.models.autoregressive.sequence",
    "SequenceModel": "genmodels.models.autoregressive.sequence",
    "TokenModel": "genmodels.models.autoregressive.sequence",
    "GPT": "genmodels.models.autoregressive.gpt",
    "GPTConfig": "genmodels.models.autoregressive.gpt",
    "CharRNN": "genmodels.models.autoregressive.char_rnn",
    "CharRNNConfig": "genmodels.models.autoregressive.char_rnn",
    "TableLayoutConfig": "genmodels.models.tabular.layout",
    "TableModel": "genmodels.models.tabular.layout",
    "TabularMADE": "genmodels.models.tabular.made",
    "TabularMADEConfig": "genmodels.models.tabular.made",
    "TabularVAE": "genmodels.models.tabular.vae",
    "TabularVAEConfig": "genmodels.models.tabular.vae",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_attributes(__name__, _EXPORTS)

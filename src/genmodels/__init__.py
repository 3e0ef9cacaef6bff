"""genmodels: generative models behind one interface, trained with Lightning Fabric.

Public names are imported on first use (PEP 562), so ``import genmodels`` stays cheap.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from genmodels.lazy import lazy_attributes

try:
    __version__ = version("genmodels")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"

_MODELS = "genmodels.models"
_EXPORTS = {
    **{
        name: _MODELS
        for name in (
            "GenerativeModel",
            "ModelConfig",
            "MODEL_REGISTRY",
            "build_model",
            "get_model_class",
            "register_model",
            "VAE",
            "VAEConfig",
            "ConvVAE",
            "ConvVAEConfig",
            "SmilesVAE",
            "SmilesVAEConfig",
            "GAN",
            "GANConfig",
            "DCGAN",
            "DCGANConfig",
            "WGANGP",
            "WGANGPConfig",
            "MADE",
            "MADEConfig",
            "PixelCNN",
            "PixelCNNConfig",
            "GPT",
            "GPTConfig",
            "CharRNN",
            "CharRNNConfig",
            "TabularVAE",
            "TabularVAEConfig",
            "TabularMADE",
            "TabularMADEConfig",
        )
    },  # fmt: skip
    "Ensemble": "genmodels.ensembles",
    "EnsembleConfig": "genmodels.ensembles",
    "ensemble_of": "genmodels.ensembles",
    "Trainer": "genmodels.training",
    "TrainerConfig": "genmodels.training",
    "load_data": "genmodels.data",
    "DataSpec": "genmodels.data",
    "load": "genmodels.models.base",
    "train": "genmodels.runs.train",
    "RunOutcome": "genmodels.runs.train",
}
__all__ = sorted([*_EXPORTS, "__version__"])
__getattr__, __dir__ = lazy_attributes(__name__, _EXPORTS)

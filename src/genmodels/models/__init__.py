"""Model families behind one interface; importing this package registers them all."""

from genmodels.models.adversarial import AdversarialConfig, AdversarialModel
from genmodels.models.base import (
    MODEL_REGISTRY,
    Batch,
    GenerativeModel,
    ModelConfig,
    TrainingPhase,
    build_model,
    get_model_class,
    register_model,
)
from genmodels.models.char_rnn import CharRNN, CharRNNConfig
from genmodels.models.conv_vae import ConvVAE, ConvVAEConfig
from genmodels.models.dcgan import DCGAN, WGANGP, DCGANConfig, WGANGPConfig
from genmodels.models.ensemble import Ensemble, EnsembleConfig, ensemble_of
from genmodels.models.gan import GAN, GANConfig
from genmodels.models.gpt import GPT, GPTConfig
from genmodels.models.made import MADE, MADEConfig
from genmodels.models.pixelcnn import PixelCNN, PixelCNNConfig
from genmodels.models.sequence import SequenceConfig, SequenceModel, TokenModel
from genmodels.models.smiles_vae import SmilesVAE, SmilesVAEConfig
from genmodels.models.table_layout import TableLayoutConfig, TableModel
from genmodels.models.tabular_made import TabularMADE, TabularMADEConfig
from genmodels.models.tabular_vae import TabularVAE, TabularVAEConfig
from genmodels.models.vae import VAE, VAEConfig, VariationalAutoencoder

__all__ = [
    "Ensemble",
    "EnsembleConfig",
    "ensemble_of",
    "TableLayoutConfig",
    "TableModel",
    "TabularMADE",
    "TabularMADEConfig",
    "TabularVAE",
    "TabularVAEConfig",
    "MADE",
    "MADEConfig",
    "PixelCNN",
    "PixelCNNConfig",
    "CharRNN",
    "CharRNNConfig",
    "GPT",
    "GPTConfig",
    "SequenceConfig",
    "SequenceModel",
    "TokenModel",
    "SmilesVAE",
    "SmilesVAEConfig",
    "AdversarialConfig",
    "AdversarialModel",
    "DCGAN",
    "DCGANConfig",
    "WGANGP",
    "WGANGPConfig",
    "GAN",
    "ConvVAE",
    "ConvVAEConfig",
    "VariationalAutoencoder",
    "MODEL_REGISTRY",
    "VAE",
    "Batch",
    "GANConfig",
    "GenerativeModel",
    "ModelConfig",
    "TrainingPhase",
    "VAEConfig",
    "build_model",
    "get_model_class",
    "register_model",
]

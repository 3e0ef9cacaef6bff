"""Autoregressive models with exact likelihoods: MADE and PixelCNN over pixels, GPT and CharRNN over tokens."""

from genmodels.models.autoregressive.char_rnn import CharRNN, CharRNNConfig
from genmodels.models.autoregressive.gpt import GPT, GPTConfig
from genmodels.models.autoregressive.made import MADE, MADEConfig
from genmodels.models.autoregressive.pixelcnn import PixelCNN, PixelCNNConfig
from genmodels.models.autoregressive.sequence import SequenceConfig, SequenceModel, TokenModel

__all__ = [
    "GPT",
    "MADE",
    "CharRNN",
    "CharRNNConfig",
    "GPTConfig",
    "MADEConfig",
    "PixelCNN",
    "PixelCNNConfig",
    "SequenceConfig",
    "SequenceModel",
    "TokenModel",
]

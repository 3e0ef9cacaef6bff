"""Autoregressive models with exact likelihoods: MADE and PixelCNN over pixels, GPT and CharRNN over tokens."""

from genmodels.lazy import lazy_attributes

_EXPORTS = {
    "CharRNN": "genmodels.models.autoregressive.char_rnn",
    "CharRNNConfig": "genmodels.models.autoregressive.char_rnn",
    "GPT": "genmodels.models.autoregressive.gpt",
    "GPTConfig": "genmodels.models.autoregressive.gpt",
    "MADE": "genmodels.models.autoregressive.made",
    "MADEConfig": "genmodels.models.autoregressive.made",
    "PixelCNN": "genmodels.models.autoregressive.pixelcnn",
    "PixelCNNConfig": "genmodels.models.autoregressive.pixelcnn",
    "SequenceConfig": "genmodels.models.autoregressive.sequence",
    "SequenceModel": "genmodels.models.autoregressive.sequence",
    "TokenModel": "genmodels.models.autoregressive.sequence",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_attributes(__name__, _EXPORTS)

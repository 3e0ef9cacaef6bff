"""A recurrent language model over tokens (Karpathy's char-rnn; the CharRNN of the MOSES benchmark).

Token embedding, a stacked LSTM, a linear layer to next-token logits. Its state is the LSTM's
hidden and cell state, so sampling costs one step per token however long the text grows.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from genmodels.io.validation import PositiveInt, UnitInterval
from genmodels.models.autoregressive.sequence import SequenceConfig, SequenceModel
from genmodels.models.registry import register_model

LSTMState = tuple[torch.Tensor, torch.Tensor]


@dataclass
class CharRNNConfig(SequenceConfig):
    embedding_dim: PositiveInt = 64
    hidden_dim: PositiveInt = 512
    num_layers: PositiveInt = 3
    dropout: UnitInterval = 0.2
    """Between LSTM layers and before the output layer."""


@register_model("charrnn")
class CharRNN(SequenceModel):
    """Stacked-LSTM language model over characters or tokens; exact log p(tokens)."""

    config_class = CharRNNConfig
    part_aliases = {"embeddings": ("embedding",), **{f"lstm.{layer}": (f"lstm.*_l{layer}",) for layer in range(8)}}
    recommended_training = {
        "learning_rate": 2e-3,
        "batch_size": 64,
        "max_steps": 5000,
        "gradient_clip_norm": 5.0,
        "lr_schedule": "cosine",
        "val_every": 250,
    }
    recommended_data = {"context_length": 128}

    def __init__(self, config: CharRNNConfig) -> None:
        super().__init__(config)
        self.embedding = nn.Embedding(config.vocab_size, config.embedding_dim)
        self.lstm = nn.LSTM(
            config.embedding_dim,
            config.hidden_dim,
            config.num_layers,
            batch_first=True,
            dropout=config.dropout if config.num_layers > 1 else 0.0,
        )
        self.output_dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(config.hidden_dim, config.vocab_size)

    def _run(self, tokens: torch.Tensor, state: LSTMState | None = None) -> tuple[torch.Tensor, LSTMState]:
        outputs, state = self.lstm(self.embedding(tokens), state)  # (batch, length, hidden)
        return self.head(self.output_dropout(outputs)), state

    def logits(self, tokens: torch.Tensor) -> torch.Tensor:
        return self._run(tokens)[0]

    def start(self, tokens: torch.Tensor) -> tuple[torch.Tensor, LSTMState]:
        logits, state = self._run(tokens)
        return logits[:, -1], state

    def advance(self, tokens: torch.Tensor, state: LSTMState) -> tuple[torch.Tensor, LSTMState]:
        logits, state = self._run(tokens[:, None], state)
        return logits[:, -1], state

"""A small CharRNN that learns a few-molecule corpus in seconds, for generation tests."""

from __future__ import annotations

from pathlib import Path

import torch

from genmodels.data import DataSpec, load_data
from genmodels.models import CharRNN, CharRNNConfig
from genmodels.training import Trainer, TrainerConfig


def tiny_char_rnn(spec: DataSpec, directory: Path) -> CharRNN:
    """A one-layer CharRNN trained for 150 steps on ``spec``'s corpus, in eval mode, with its tokenizer."""
    data = load_data(spec)
    torch.manual_seed(0)
    model = CharRNN(CharRNNConfig(data_shape=data.data_shape, vocab_size=data.tokenizer.vocab_size, hidden_dim=64,
                                  num_layers=1, dropout=0.0))  # fmt: skip
    model.tokenizer = data.tokenizer
    config = TrainerConfig(max_steps=150, batch_size=32, learning_rate=1e-2, progress_bar=False, tensorboard=False)
    Trainer(config, directory).fit(model, data.train.tensors())
    return model.eval()

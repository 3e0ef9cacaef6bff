"""A model's memory, estimated from its config before any weight is allocated.

The model is built on PyTorch's ``meta`` device, which records shapes and allocates nothing, and
its parameters and buffers are counted: a config with a ``hidden_dim`` of 3e7 is refused in
milliseconds with the numbers, rather than after a minute of allocation or an allocator crash.
"""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

import torch

from genmodels.io.memory import format_bytes, require_memory

if TYPE_CHECKING:
    from genmodels.models.base import GenerativeModel, ModelConfig

TRAINING_COPIES = 4
"""Weights, gradients and Adam's two moments: what training holds per parameter."""


def model_bytes(cls: type[GenerativeModel], config: ModelConfig) -> int | None:
    """Bytes of the parameters and buffers of ``cls(config)``; None for a model that cannot be built on ``meta``."""
    try:
        with torch.device("meta"):
            model = cls(config)
    except (NotImplementedError, RuntimeError):
        return None
    tensors = itertools.chain(model.parameters(), model.buffers())
    return sum(tensor.numel() * tensor.element_size() for tensor in tensors)


def build_model_checked(cls: type[GenerativeModel], config: ModelConfig, copies: int = 1) -> GenerativeModel:
    """``cls(config)``, refused first (a ResourceError with the numbers) when ``copies`` of its weights cannot fit."""
    size = model_bytes(cls, config)
    if size is not None:
        require_memory(size * copies, f"a {cls.model_type} with this config ({format_bytes(size)} of weights)")
    return cls(config)

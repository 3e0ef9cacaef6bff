"""Which parameters a named part of a model covers: freezing and gradual unfreezing for fine-tuning."""

from __future__ import annotations

from collections.abc import Iterable

from torch import nn

from genmodels.errors import ConfigError
from genmodels.models.base import GenerativeModel
from genmodels.nn.parameter_names import name_matches


def part_parameters(model: GenerativeModel, part: str) -> dict[str, nn.Parameter]:
    """The parameters of one part named in ``model.parameter_parts()``; an unknown name lists the known ones."""
    parts = model.parameter_parts()
    if part not in parts:
        raise ConfigError(f"{model.model_type} has no part {part!r}; its parts are: {', '.join(parts)}")
    found = {name: p for name, p in model.named_parameters(remove_duplicate=False) if name_matches(name, parts[part])}
    if not found:
        raise ConfigError(f"part {part!r} of this {model.model_type} holds no parameters")
    return found


def first_blocks(model: GenerativeModel, count: int) -> list[str]:
    """Part names of the first ``count`` repeated blocks (input side), e.g. ``blocks.0``, ``blocks.1``."""
    stack = model.block_stack
    if stack is None:
        raise ConfigError(f"{model.model_type} has no stack of repeated blocks; freeze parts by name instead")
    blocks = len(getattr(model, stack))
    if not 0 < count <= blocks:
        raise ConfigError(f"{model.model_type} has {blocks} blocks in {stack!r}; cannot take the first {count}")
    return [f"{stack}.{index}" for index in range(count)]


def freeze(model: GenerativeModel, parts: Iterable[str]) -> list[str]:
    """Stop gradients to the named parts; returns the parameter names now frozen."""
    frozen: list[str] = []
    for part in parts:
        for name, parameter in part_parameters(model, part).items():
            parameter.requires_grad_(False)
            frozen.append(name)
    return sorted(set(frozen))

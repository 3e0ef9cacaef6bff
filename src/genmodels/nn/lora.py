"""LoRA (Hu et al., 2021): fine-tune a frozen model through low-rank updates of its weight matrices.

Each adapted weight ``W`` is read as ``W + (alpha / rank) * B @ A`` through
``torch.nn.utils.parametrize``, so every layer that reads ``self.weight`` is adapted
unchanged, masked layers included: MADE and PixelCNN multiply the adapted weight by their
masks, so their likelihoods stay exactly autoregressive. ``B`` starts at zero, so an adapted
model starts equal to its base. Only ``A`` and ``B`` train, and only they are saved.

PEFT (Hugging Face) was the first choice, but it requires ``transformers`` and ``accelerate``
for models that are not Transformers; this module is the small implementation the weight-only
case needs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.nn.utils import parametrize

from genmodels.errors import ConfigError
from genmodels.io.validation import PositiveFloat, PositiveInt, check_fields
from genmodels.nn.parameter_names import name_matches

ADAPTED_TYPES = (nn.Linear, nn.Conv1d, nn.Conv2d)
ADAPTER_KEY = ".parametrizations.weight.0."


class LowRankUpdate(nn.Module):
    """``W -> W + scaling * B @ A``, the update reshaped to the weight's shape (convolutions included)."""

    def __init__(self, weight: torch.Tensor, rank: int, alpha: float) -> None:
        super().__init__()
        self.lora_a = nn.Parameter(torch.empty(rank, weight[0].numel(), device=weight.device))
        self.lora_b = nn.Parameter(torch.zeros(weight.shape[0], rank, device=weight.device))
        nn.init.kaiming_uniform_(self.lora_a, a=math.sqrt(5))
        self.scaling = alpha / rank

    def forward(self, weight: torch.Tensor) -> torch.Tensor:
        return weight + (self.lora_b @ self.lora_a).view_as(weight) * self.scaling


@dataclass
class LoRASettings:
    """What was adapted and from which base; saved as ``config.json``'s ``adapter`` entry."""

    rank: PositiveInt = 8
    alpha: PositiveFloat = 16.0
    targets: tuple[str, ...] | None = None
    """Module-name patterns; None: the family's ``lora_targets``."""
    modules: list[str] = field(default_factory=list)
    base_model: dict[str, Any] = field(default_factory=dict)
    """The base's directory and weights' SHA-256, filled by fine-tuning."""

    def __post_init__(self) -> None:
        check_fields(self)

    def to_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "alpha": self.alpha,
            "targets": list(self.targets) if self.targets is not None else None,
            "modules": self.modules,
            "base_model": self.base_model,
        }


def apply_lora(model: nn.Module, settings: LoRASettings) -> nn.Module:
    """Freeze ``model`` and adapt the weights of its matching linear and convolution layers, in place.

    Without ``settings.targets`` the model's ``lora_targets`` (a family's default) choose the layers, or every layer.
    """
    if getattr(model, "lora", None) is not None:
        raise ConfigError("this model already carries LoRA adapters")
    if settings.rank < 1 or settings.alpha <= 0:
        raise ConfigError(f"LoRA needs rank >= 1 and alpha > 0, got rank {settings.rank}, alpha {settings.alpha}")
    targets = settings.targets if settings.targets is not None else getattr(model, "lora_targets", ("*",))
    kind = getattr(model, "model_type", type(model).__name__)
    layers = {name: module for name, module in model.named_modules() if isinstance(module, ADAPTED_TYPES)}
    chosen = settings.modules or [name for name in layers if name_matches(name, targets)]
    if not chosen:
        raise ConfigError(f"no linear or convolution layer of this {kind} matches LoRA targets {targets}")
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    for name in chosen:
        if name not in layers:
            raise ConfigError(f"{name!r} is not a linear or convolution layer of this {kind}")
        update = LowRankUpdate(layers[name].weight, settings.rank, settings.alpha)
        parametrize.register_parametrization(layers[name], "weight", update)
    settings.modules = chosen
    model.lora = settings
    return model


def adapter_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """Only the LoRA factors, by their names in the adapted model."""
    return {name: tensor for name, tensor in model.state_dict().items() if ADAPTER_KEY in name}


def merge_lora(model: nn.Module) -> nn.Module:
    """Fold every update into its weight: a plain model of the base architecture, no adapters left."""
    settings = getattr(model, "lora", None)
    if settings is None:
        raise ConfigError("this model carries no LoRA adapters")
    modules = dict(model.named_modules())
    for name in settings.modules:
        parametrize.remove_parametrizations(modules[name], "weight", leave_parametrized=True)
    model.lora = None
    return model

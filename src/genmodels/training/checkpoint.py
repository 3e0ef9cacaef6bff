"""Training checkpoints as one safetensors file: tensors for weights and optimizer state, JSON for the rest.

One file, written to a temporary name and renamed, so a run killed mid-write keeps its previous
checkpoint. No pickle anywhere: optimizer states are flattened into named tensors.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from genmodels.errors import CheckpointError, ConfigError
from genmodels.io.files import atomic_path
from genmodels.io.validation import NonNegativeInt, check_value

_STATE_KEY = "genmodels_training_state"


@dataclass
class TrainingCheckpoint:
    """Everything needed to continue a run exactly where it stopped."""

    step: int
    model: dict[str, torch.Tensor]
    optimizers: dict[str, dict[str, Any]]
    schedulers: dict[str, dict[str, Any]]
    trainer_state: dict[str, Any] = field(default_factory=dict)
    best_model: dict[str, torch.Tensor] | None = None


def save_checkpoint(path: str | Path, checkpoint: TrainingCheckpoint) -> None:
    tensors = {f"model/{name}": tensor for name, tensor in checkpoint.model.items()}
    if checkpoint.best_model is not None:
        tensors.update({f"best_model/{name}": tensor for name, tensor in checkpoint.best_model.items()})
    optimizer_layouts = {}
    for phase, state_dict in checkpoint.optimizers.items():
        optimizer_layouts[phase] = _flatten_optimizer_state(phase, state_dict, tensors)
    state = {
        "step": checkpoint.step,
        "optimizers": optimizer_layouts,
        "schedulers": checkpoint.schedulers,
        "trainer_state": checkpoint.trainer_state,
        "has_best_model": checkpoint.best_model is not None,
    }
    # safetensors refuses tensors that share memory (e.g. tied weights): store private copies.
    tensors = {name: tensor.detach().to("cpu").clone().contiguous() for name, tensor in tensors.items()}
    with atomic_path(path) as temporary:
        save_file(tensors, str(temporary), metadata={_STATE_KEY: json.dumps(state)})


def load_checkpoint(path: str | Path) -> TrainingCheckpoint:
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"no checkpoint at {path}")
    try:
        with safe_open(str(path), framework="pt") as stored:
            metadata = stored.metadata() or {}
            tensors = {name: stored.get_tensor(name) for name in stored.keys()}
    except (SafetensorError, OSError) as error:
        raise CheckpointError(f"{path} is not a readable checkpoint ({error}); it is corrupt or truncated") from None
    if _STATE_KEY not in metadata:
        raise CheckpointError(f"{path} is a safetensors file but not a genmodels training checkpoint")
    try:
        state = check_value(json.loads(metadata[_STATE_KEY]), dict[str, Any], "training state")
        optimizers = check_value(state.get("optimizers"), dict[str, dict[str, Any]], "optimizers")
        return TrainingCheckpoint(
            step=check_value(state.get("step"), NonNegativeInt, "step"),
            model=_with_prefix(tensors, "model/"),
            optimizers={
                phase: _unflatten_optimizer_state(phase, layout, tensors) for phase, layout in optimizers.items()
            },
            schedulers=check_value(state.get("schedulers"), dict[str, dict[str, Any]], "schedulers"),
            trainer_state=check_value(state.get("trainer_state"), dict[str, Any], "trainer_state"),
            best_model=_with_prefix(tensors, "best_model/")
            if check_value(state.get("has_best_model"), bool, "has_best_model")
            else None,
        )
    except (json.JSONDecodeError, ConfigError, KeyError, TypeError, ValueError, AttributeError) as error:
        raise CheckpointError(f"{path}: its training state is not one genmodels wrote: {error}") from None


def checkpoint_step(path: str | Path) -> int | None:
    """The step a checkpoint was written at, read from its header alone (None if there is no checkpoint)."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        with safe_open(str(path), framework="pt") as stored:
            metadata = stored.metadata() or {}
        return int(json.loads(metadata[_STATE_KEY])["step"])
    except (SafetensorError, OSError, KeyError, TypeError, ValueError) as error:
        raise CheckpointError(f"{path} is not a readable genmodels training checkpoint ({error})") from None


def _with_prefix(tensors: Mapping[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    return {name[len(prefix) :]: tensor for name, tensor in tensors.items() if name.startswith(prefix)}


def _flatten_optimizer_state(phase: str, state_dict: dict[str, Any], tensors: dict[str, torch.Tensor]) -> dict:
    """Move each tensor of ``optimizer.state_dict()`` into ``tensors``; return the JSON-able rest."""
    plain_state: dict[str, dict[str, Any]] = {}
    for index, parameter_state in state_dict["state"].items():
        plain_state[str(index)] = {}
        for key, value in parameter_state.items():
            if isinstance(value, torch.Tensor):
                tensors[f"optimizer/{phase}/{index}/{key}"] = value
            else:
                plain_state[str(index)][key] = value
    return {"param_groups": state_dict["param_groups"], "plain_state": plain_state}


def _unflatten_optimizer_state(phase: str, layout: dict, tensors: Mapping[str, torch.Tensor]) -> dict[str, Any]:
    state: dict[int, dict[str, Any]] = {int(index): dict(values) for index, values in layout["plain_state"].items()}
    prefix = f"optimizer/{phase}/"
    for name, tensor in tensors.items():
        if name.startswith(prefix):
            index, key = name[len(prefix) :].split("/", 1)
            state.setdefault(int(index), {})[key] = tensor
    return {"state": state, "param_groups": layout["param_groups"]}

"""The ``save_pretrained`` / ``from_pretrained`` directory format: ``config.json`` + ``model.safetensors``.

Nothing is unpickled: weights are safetensors and the config is JSON. The config records the
weights' SHA-256, so a corrupt or swapped weights file is refused before it is read. A model
fine-tuned with LoRA saves only its adapters (``adapter.safetensors``) and names its base model
by directory and weights' SHA-256; loading it loads the base, checks the hash and adds the adapters.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, load_model, save_file, save_model

from genmodels.errors import CheckpointError, ConfigError
from genmodels.io.dataclass_json import dataclass_from_dict
from genmodels.io.files import atomic_path, sha256_file, write_text_atomic
from genmodels.io.validation import check_value
from genmodels.io.versions import software_versions
from genmodels.models.registry import get_model_class
from genmodels.models.sizing import build_model_checked
from genmodels.nn.lora import LoRASettings, adapter_state_dict, apply_lora

if TYPE_CHECKING:
    from genmodels.models.base import GenerativeModel

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
ADAPTER_NAME = "adapter.safetensors"


def save_pretrained(model: GenerativeModel, directory: str | Path, **provenance: Any) -> None:
    """Save weights first, then the config that vouches for them (so a half-written save is refused)."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    lora = getattr(model, "lora", None)
    weights_name = WEIGHTS_NAME if lora is None else ADAPTER_NAME
    with atomic_path(directory / weights_name) as temporary:
        if lora is None:
            save_model(model, str(temporary), metadata={"model_type": model.model_type})
        else:
            tensors = {name: tensor.contiguous() for name, tensor in adapter_state_dict(model).items()}
            save_file(tensors, str(temporary), metadata={"model_type": model.model_type})
    extras = {name: sha256_file(directory / name) for name in model.save_extras(directory)}
    config = {
        "model_type": model.model_type,
        "config": model.config.to_dict(),
        "weights_sha256": sha256_file(directory / weights_name),
        **({"adapter": lora.to_dict()} if lora is not None else {}),
        **({"extra_files_sha256": extras} if extras else {}),
        "versions": software_versions(),
        **provenance,
    }
    write_text_atomic(directory / CONFIG_NAME, json.dumps(config, indent=2) + "\n")


def read_config(directory: str | Path) -> dict[str, Any]:
    """The parsed ``config.json`` of a saved model, with a clear error when it is missing or broken."""
    path = Path(directory) / CONFIG_NAME
    if not Path(directory).is_dir():
        raise CheckpointError(f"{directory} is not a directory holding a saved model ({CONFIG_NAME} + {WEIGHTS_NAME})")
    if not path.is_file():
        raise CheckpointError(f"{path} is missing: {directory} does not hold a saved model")
    try:
        config = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise CheckpointError(f"{path} is not valid JSON ({error}); the file is corrupt") from None
    if not isinstance(config, dict) or "model_type" not in config or "config" not in config:
        raise CheckpointError(f"{path} lacks 'model_type' or 'config'; it was not written by genmodels")
    return config


def load_pretrained(
    directory: str | Path,
    expected_class: type[GenerativeModel],
    map_location: str | torch.device = "cpu",
    allow_missing_hash: bool = False,
) -> GenerativeModel:
    """The saved model, its weights checked against their recorded SHA-256 before they are read.

    A ``config.json`` without ``weights_sha256`` is refused: nothing could tell corrupt weights from
    good ones. ``allow_missing_hash=True`` loads such a model anyway, with a warning.
    """
    directory = Path(directory)
    saved = read_config(directory)
    try:
        cls = get_model_class(saved["model_type"])
    except KeyError as error:
        raise CheckpointError(f"{directory / CONFIG_NAME}: {error.args[0]}") from None
    if not issubclass(cls, expected_class):
        raise CheckpointError(
            f"{directory} holds a {saved['model_type']!r} model ({cls.__name__}), "
            f"which {expected_class.__name__}.from_pretrained cannot load"
        )
    try:
        config = cls.config_class.from_dict(saved["config"])
    except (TypeError, ValueError) as error:
        raise CheckpointError(f"{directory / CONFIG_NAME}: invalid config: {error}") from None

    if "adapter" in saved:
        return _load_adapted(directory, saved, expected_class, map_location)
    weights = directory / WEIGHTS_NAME
    if not weights.is_file():
        raise CheckpointError(f"{weights} is missing")
    recorded_hash = _recorded(saved, "weights_sha256", str | None, directory)
    if recorded_hash is None and not allow_missing_hash:
        raise CheckpointError(
            f"{directory / CONFIG_NAME} records no weights_sha256, so {weights} cannot be verified; save the model "
            "again, or load it with allow_missing_hash=True if you trust the file"
        )
    if recorded_hash is None:
        warnings.warn(f"loading {weights} unverified: {CONFIG_NAME} records no weights_sha256", stacklevel=3)
    elif sha256_file(weights) != recorded_hash:
        raise CheckpointError(
            f"{weights} does not match the SHA-256 recorded in {CONFIG_NAME}: the file is corrupt, "
            "truncated or was replaced"
        )

    for name, recorded in _recorded(saved, "extra_files_sha256", dict[str, str], directory, {}).items():
        if not (directory / name).is_file() or sha256_file(directory / name) != recorded:
            raise CheckpointError(f"{directory / name} is missing or does not match the SHA-256 in {CONFIG_NAME}")

    model = build_model_checked(cls, config)
    model.load_extras(directory)
    _check_shapes(model, weights)
    try:
        load_model(model, str(weights), strict=True, device=str(map_location))
    except (SafetensorError, RuntimeError, OSError) as error:
        raise CheckpointError(f"{weights} does not fit a {cls.__name__} with this config: {error}") from None
    return model.to(map_location).eval()


def _load_adapted(
    directory: Path, saved: dict[str, Any], expected_class: type[GenerativeModel], map_location: str | torch.device
) -> GenerativeModel:
    """The base model named in ``saved["adapter"]`` (hash-checked) with this directory's LoRA adapters."""
    try:
        settings = dataclass_from_dict(LoRASettings, check_value(saved["adapter"], dict[str, Any], "adapter"))
        base_dir = Path(check_value(settings.base_model.get("path"), str, "adapter.base_model.path"))
        base_hash = check_value(settings.base_model.get("weights_sha256"), str, "adapter.base_model.weights_sha256")
    except ConfigError as error:
        raise CheckpointError(f"{directory / CONFIG_NAME}: invalid adapter: {error}") from None
    if read_config(base_dir).get("weights_sha256") != base_hash:
        raise CheckpointError(
            f"{directory} adapts the base model in {base_dir}, whose weights are no longer the ones it was "
            "tuned from (SHA-256 differs)"
        )
    weights = directory / ADAPTER_NAME
    if not weights.is_file() or sha256_file(weights) != _recorded(saved, "weights_sha256", str, directory):
        raise CheckpointError(f"{weights} is missing or does not match the SHA-256 recorded in {CONFIG_NAME}")
    model = load_pretrained(base_dir, expected_class, map_location="cpu")
    apply_lora(model, settings)
    stored = load_file(str(weights))
    expected = adapter_state_dict(model)
    if stored.keys() != expected.keys() or any(stored[k].shape != expected[k].shape for k in expected):
        raise CheckpointError(f"{weights} does not hold the adapters that {CONFIG_NAME} describes")
    model.load_state_dict(stored, strict=False)
    return model.to(map_location).eval()


def _recorded(saved: dict[str, Any], key: str, expected: Any, directory: Path, default: Any = None) -> Any:
    """``saved[key]`` checked against the type ``expected``; a CheckpointError naming the file otherwise."""
    try:
        return check_value(saved.get(key, default), expected, key)
    except ConfigError as error:
        raise CheckpointError(f"{directory / CONFIG_NAME}: {error}") from None


def _check_shapes(model: GenerativeModel, weights: Path) -> None:
    """Name each tensor whose saved shape differs from the model's, before loading anything."""
    expected = {name: tuple(tensor.shape) for name, tensor in model.state_dict().items()}
    try:
        with safe_open(str(weights), framework="pt") as stored:
            found = {name: tuple(stored.get_slice(name).get_shape()) for name in stored.keys()}
    except (SafetensorError, OSError) as error:
        raise CheckpointError(
            f"{weights} is not a readable safetensors file ({error}); it is corrupt or truncated"
        ) from None
    mismatched = [
        f"{name}: saved {found[name]}, model expects {expected[name]}"
        for name in sorted(found.keys() & expected.keys())
        if found[name] != expected[name]
    ]
    if mismatched:
        raise CheckpointError(f"{weights} does not match the model's shapes: " + "; ".join(mismatched))

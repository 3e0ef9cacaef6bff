"""Start a model from a saved one: find the base, and carry its weights over to data of another shape.

The rules, never a silent mismatch:
- every tensor whose shape is unchanged is copied;
- a larger vocabulary keeps every old token's rows and starts each new token's rows (embedding,
  output layer) at the mean of the old ones;
- a new class count re-initialises only the family's conditioning layers (``conditioning_parts``);
- anything else that differs (image size or channels in a fixed-size network, a smaller
  vocabulary, a class count the family cannot re-initialise alone) is refused, naming each tensor.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from genmodels.data import DataSplits
from genmodels.errors import CheckpointError
from genmodels.io.files import sha256_file
from genmodels.models.base import GenerativeModel
from genmodels.models.saving import CONFIG_NAME, WEIGHTS_NAME, read_config
from genmodels.models.sizing import TRAINING_COPIES, build_model_checked
from genmodels.nn.parameter_names import name_matches

RUN_MODEL_DIR = "model"


@dataclass(frozen=True)
class BaseModel:
    """Where a fine-tuned model started: the saved model's directory and its weights' SHA-256."""

    path: str
    weights_sha256: str
    model_type: str

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "weights_sha256": self.weights_sha256, "model_type": self.model_type}


def locate_model_dir(path: str | Path) -> Path:
    """The saved model in ``path``: a model directory, or a run directory holding ``model/``."""
    path = Path(path)
    return path / RUN_MODEL_DIR if (path / RUN_MODEL_DIR / CONFIG_NAME).is_file() else path


def locate_base(path: str | Path) -> BaseModel:
    """The base model saved in ``path`` (a run or model directory), its weights checked against their hash."""
    directory = locate_model_dir(path)
    saved = read_config(directory)
    if "adapter" in saved:
        raise CheckpointError(
            f"{directory} holds LoRA adapters; merge them into a plain model first "
            f"(genmodels merge-lora {path} -o MERGED) and fine-tune MERGED"
        )
    weights_hash = sha256_file(directory / WEIGHTS_NAME)
    if weights_hash != saved.get("weights_sha256"):
        raise CheckpointError(f"{directory}: the weights do not match the SHA-256 in {CONFIG_NAME}; they are corrupt")
    return BaseModel(str(directory.resolve()), weights_hash, saved["model_type"])


def load_base(base: BaseModel) -> GenerativeModel:
    """The base model, refused if its weights changed since ``base`` was recorded.

    The saved config vouches for the weights file (``load_pretrained`` checks it), so comparing the
    config's hash with the recorded one is enough, and the weights are hashed once.
    """
    if read_config(base.path).get("weights_sha256") != base.weights_sha256:
        raise CheckpointError(f"the base model in {base.path} has changed since this run was set up (SHA-256 differs)")
    return GenerativeModel.from_pretrained(base.path).train()


def adapt_to_data(base: GenerativeModel, data: DataSplits, overrides: dict[str, Any] | None = None) -> GenerativeModel:
    """A model of the base's family and settings, shaped for ``data``, starting from the base's weights."""
    values = {**base.config.to_dict(), **(overrides or {}), "data_shape": data.data_shape}
    if data.tokenizer is not None:
        values["vocab_size"] = data.tokenizer.vocab_size
    num_classes = data.info.get("num_classes")
    if getattr(base.config, "num_classes", 0) and num_classes:
        values["num_classes"] = num_classes
    model = build_model_checked(type(base), base.config_class.from_dict(values), copies=TRAINING_COPIES)
    if data.tokenizer is not None:
        model.tokenizer = data.tokenizer
    if data.preprocessor is not None:
        model.preprocessor = data.preprocessor
    model.load_state_dict(_carried_weights(base, model))
    return model


def _carried_weights(base: GenerativeModel, model: GenerativeModel) -> dict[str, torch.Tensor]:
    old, new = base.state_dict(), model.state_dict()
    old_vocab = getattr(base.config, "vocab_size", None)
    new_vocab = getattr(model.config, "vocab_size", None)
    carried, refused = {}, []
    for name, fresh in new.items():
        saved = old.get(name)
        if saved is None:
            refused.append(f"{name}: not in the base model")
        elif saved.shape == fresh.shape:
            carried[name] = saved
        elif hasattr(model, "generate_tokens") and _grows_vocabulary(saved, fresh, old_vocab, new_vocab):
            new_rows = saved.mean(0, keepdim=True).expand(new_vocab - old_vocab, *saved.shape[1:])
            carried[name] = torch.cat([saved, new_rows])
        elif name_matches(name, model.conditioning_parts):
            carried[name] = fresh  # the class count changed: this conditioning layer starts afresh
        else:
            refused.append(f"{name}: base {tuple(saved.shape)}, new data needs {tuple(fresh.shape)}")
    if refused:
        differences = [
            f"{key} {value} -> {model.config.to_dict()[key]}"
            for key, value in base.config.to_dict().items()
            if value != model.config.to_dict()[key]
        ]
        raise CheckpointError(
            f"the base {base.model_type} does not fit this data ({'; '.join(differences)}); "
            f"these weights cannot be carried over: {'; '.join(refused)}"
        )
    return carried


def _grows_vocabulary(saved: torch.Tensor, fresh: torch.Tensor, old: int | None, new: int | None) -> bool:
    """A tensor with one row per token, from a vocabulary that only grew."""
    return (
        old is not None
        and new is not None
        and new > old
        and saved.shape[0] == old
        and fresh.shape[0] == new
        and saved.shape[1:] == fresh.shape[1:]
    )

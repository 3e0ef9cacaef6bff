"""What defines a run, saved as ``run.json``: model, model config, data, trainer and fine-tuning base.

A spec is data: it is written before training starts and read back to resume, repeat or fine-tune a run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genmodels.data import DataSpec
from genmodels.errors import CheckpointError
from genmodels.io.files import read_json
from genmodels.models.registry import get_model_class
from genmodels.training.config import TrainerConfig
from genmodels.training.freezing import first_blocks
from genmodels.transfer.finetuning import load_base, locate_base

RUN_FILE = "run.json"
MODEL_DIR = "model"
# Settings that may change when a run is resumed: they do not change what was computed so far.
RESUMABLE_CHANGES = {"max_steps", "max_seconds", "progress_bar"}
# What a fine-tuning run takes from its base run unless told otherwise: how data is prepared, how it trains.
INHERITED_DATA = {"binarize", "image_size", "channels", "context_length"}
INHERITED_TRAINER = {"batch_size", "optimizer", "betas", "weight_decay", "gradient_clip_norm", "precision"}


@dataclass
class RunSpec:
    """Everything that defines a run; saved as ``run.json`` so it can be repeated exactly."""

    model: str
    model_config: dict[str, Any]
    data: DataSpec
    trainer: TrainerConfig
    finetune: dict[str, Any] | None = None
    """Fine-tuning: ``{"base": BaseModel.to_dict(), "lora": {"rank", "alpha", "targets"} or None}``."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "model_config": self.model_config,
            "data": self.data.to_dict(),
            "trainer": self.trainer.to_dict(),
            **({"finetune": self.finetune} if self.finetune else {}),
        }

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> RunSpec:
        return cls(
            model=values["model"],
            model_config=dict(values.get("model_config", {})),
            data=DataSpec.from_dict(values["data"]),
            trainer=TrainerConfig.from_dict(values.get("trainer", {})),
            finetune=values.get("finetune"),
        )


def make_spec(
    model: str,
    data: dict[str, Any],
    model_config: dict[str, Any] | None = None,
    trainer: dict[str, Any] | None = None,
) -> RunSpec:
    """A spec from user settings, filling what the user left out with the family's recommendations."""
    model_class = get_model_class(model)
    return RunSpec(
        model=model,
        model_config=dict(model_config or {}),
        data=DataSpec.from_dict({**model_class.recommended_data, **data}),
        trainer=TrainerConfig.from_dict({**model_class.recommended_training, **(trainer or {})}),
    )


def finetune_spec(
    base: str | Path,
    data: dict[str, Any],
    model_config: dict[str, Any] | None = None,
    trainer: dict[str, Any] | None = None,
    lora: dict[str, Any] | None = None,
    freeze_first: int = 0,
) -> RunSpec:
    """A spec that starts from a saved model (a run or model directory) and tunes it on ``data``.

    Data preparation (binarization, image size, context length) and trainer settings default to the
    base run's; ``freeze_first`` freezes that many of the family's repeated blocks, input side first.
    """
    located = locate_base(base)
    model_class = get_model_class(located.model_type)
    inherited_data: dict[str, Any] = {}
    inherited_trainer: dict[str, Any] = {}
    base_run = Path(located.path).parent / RUN_FILE
    if base_run.is_file():
        saved = RunSpec.from_dict(read_json(base_run, "a run's spec"))
        inherited_data = {key: value for key, value in saved.data.to_dict().items() if key in INHERITED_DATA}
        inherited_trainer = {key: value for key, value in saved.trainer.to_dict().items() if key in INHERITED_TRAINER}
    trainer = {**model_class.recommended_training, **inherited_trainer, **(trainer or {})}
    if freeze_first:
        blocks = first_blocks(load_base(located), freeze_first)
        trainer["freeze"] = [*blocks, *trainer.get("freeze", ())]
    return RunSpec(
        model=located.model_type,
        model_config=dict(model_config or {}),
        data=DataSpec.from_dict({**model_class.recommended_data, **inherited_data, **data}),
        trainer=TrainerConfig.from_dict(trainer),
        finetune={"base": located.to_dict(), "lora": lora},
    )


def load_run_spec(run_dir: str | Path) -> RunSpec:
    path = Path(run_dir) / RUN_FILE
    if not path.is_file():
        raise CheckpointError(f"{run_dir} is not a run directory: {RUN_FILE} is missing")
    return RunSpec.from_dict(read_json(path, "a run's spec"))


def run_name(spec: RunSpec) -> str:
    """The model's name with what sets this model apart from the family's default: ``vae-conditional-iwae``.

    Conditional models (``num_classes`` > 0) and a training objective other than the default are named.
    """
    defaults = get_model_class(spec.model).config_class()
    settings = spec.model_config
    qualifiers = ["conditional"] if settings.get("num_classes") else []
    objective = settings.get("objective")
    if objective is not None and objective != getattr(defaults, "objective", None):
        qualifiers.append(str(objective))
    return "-".join([spec.model, *qualifiers])


def default_run_dir(model: str, data: str, root: str | Path = "runs") -> Path:
    """``runs/MODEL-DATA``, numbered so an earlier run is never overwritten."""
    base = Path(root) / f"{model}-{Path(data).name}"
    candidate, number = base, 1
    while candidate.exists():
        number += 1
        candidate = base.with_name(f"{base.name}-{number}")
    return candidate

"""Trainer settings: a dataclass saved with every run, so a run can be repeated from its JSON."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from genmodels.errors import ConfigError
from genmodels.io.dataclass_json import dataclass_from_dict
from genmodels.io.validation import (
    NonNegativeFloat,
    NonNegativeInt,
    PositiveFloat,
    PositiveInt,
    UnitInterval,
    check_fields,
)

OPTIMIZERS = ("adam", "adamw", "sgd")
LR_SCHEDULES = ("constant", "cosine", "linear")


@dataclass
class TrainerConfig:
    max_steps: PositiveInt = 2000
    max_seconds: PositiveFloat | None = None
    """Also stop once training has run this long (wall clock, validation included, resumes added up): a time
    budget. A cosine or linear schedule then decays over whichever budget, steps or seconds, runs out first."""
    batch_size: PositiveInt = 128
    """Examples per device per optimizer update; the global batch is this times the number of processes."""
    learning_rate: PositiveFloat = 1e-3
    phase_learning_rates: dict[str, PositiveFloat] = field(default_factory=dict)
    """Per-phase overrides, e.g. ``{"discriminator": 4e-4}`` for two time-scale GAN training."""
    optimizer: str = "adam"
    betas: tuple[UnitInterval, UnitInterval] = (0.9, 0.999)
    weight_decay: NonNegativeFloat = 0.0
    """Applied to weight matrices and embeddings only; biases and normalisation gains are never decayed."""
    lr_schedule: str = "constant"
    min_lr_ratio: UnitInterval = 0.0
    """Where cosine and linear decay end, as a fraction of the learning rate (e.g. 0.1)."""
    warmup_steps: NonNegativeInt = 0
    gradient_clip_norm: PositiveFloat | None = None
    log_every: PositiveInt = 25
    val_every: PositiveInt = 250
    checkpoint_every: PositiveInt = 500
    monitor: str | None = "loss"
    """Validation loss key that early stopping and best-model selection watch (lower is better); None: neither."""
    early_stopping_patience: PositiveInt | None = None
    """Stop after this many validations without improvement of ``monitor``."""
    restore_best: bool = True
    """End with the weights of the best validation of ``monitor`` rather than the last step."""
    sample_grid_every: NonNegativeInt = 0
    """Every this many validations, write a grid of samples (same seed each time) and the training curves
    into the run's ``progress/`` folder, a live view of training; 0 writes none."""
    freeze: tuple[str, ...] = ()
    """Model parts (``model.parameter_parts()``) kept fixed for the whole run: fine-tuning the rest."""
    gradual_unfreeze: tuple[str, ...] = ()
    """Parts that start fixed and join training one by one, in this order, every ``unfreeze_every`` steps."""
    unfreeze_every: PositiveInt = 100
    unfrozen_lr_ratio: float = 1.0
    """Learning rate of the ``gradual_unfreeze`` parts as a fraction of the others' (discriminative rates)."""
    accelerator: str = "auto"
    devices: int | str = 1
    strategy: str = "auto"
    precision: str = "32-true"
    num_nodes: PositiveInt = 1
    seed: int = 0
    data_workers: NonNegativeInt = 2
    """Processes that read and decode streamed training batches ahead of the loop (0: the loop reads them
    itself); in-memory data needs none."""
    progress_bar: bool = True
    tensorboard: bool = True

    def __post_init__(self) -> None:
        check_fields(self)
        if self.optimizer not in OPTIMIZERS:
            raise ConfigError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {self.optimizer!r}")
        if self.lr_schedule not in LR_SCHEDULES:
            raise ConfigError(f"lr_schedule must be one of {', '.join(LR_SCHEDULES)}, got {self.lr_schedule!r}")
        overlap = set(self.freeze) & set(self.gradual_unfreeze)
        if overlap:
            raise ConfigError(f"parts {sorted(overlap)} are both frozen and gradually unfrozen")
        if not 0 < self.unfrozen_lr_ratio <= 1:
            raise ConfigError(f"unfrozen_lr_ratio must be in (0, 1], got {self.unfrozen_lr_ratio}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> TrainerConfig:
        return dataclass_from_dict(cls, values)

"""What a run remembers besides weights and optimizers: the best validation value, its weights, the clock.

Saved in every checkpoint, so a resumed run stops early, restores the best weights and spends its
time budget exactly as the uninterrupted run would.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from genmodels.models.base import GenerativeModel
from genmodels.training.checkpoint import TrainingCheckpoint


class TrainingState:
    """Best validation value, its weights, and the early-stopping count."""

    def __init__(self, monitor: str | None, patience: int | None) -> None:
        self.monitor, self.patience = monitor, patience
        self.best_value: float | None = None
        self.best_step: int | None = None
        self.best_model: dict[str, torch.Tensor] | None = None
        self.validations_without_improvement = 0
        self.seconds = 0.0
        """Wall-clock seconds trained, over every resume."""

    @property
    def should_stop(self) -> bool:
        return self.patience is not None and self.validations_without_improvement >= self.patience

    def observe(self, step: int, metrics: Mapping[str, float], model: GenerativeModel) -> None:
        if self.monitor is None:
            return
        if self.monitor not in metrics:
            raise KeyError(f"monitor {self.monitor!r} is not a validation loss; the model reports {sorted(metrics)}")
        value = metrics[self.monitor]
        if self.best_value is None or value < self.best_value:
            self.best_value, self.best_step = value, step
            self.best_model = {name: tensor.detach().clone() for name, tensor in model.state_dict().items()}
            self.validations_without_improvement = 0
        else:
            self.validations_without_improvement += 1

    def to_dict(self) -> dict:
        return {
            "best_value": self.best_value,
            "best_step": self.best_step,
            "validations_without_improvement": self.validations_without_improvement,
            "seconds": self.seconds,
        }

    def load(self, checkpoint: TrainingCheckpoint) -> None:
        saved = checkpoint.trainer_state
        self.best_value, self.best_step = saved["best_value"], saved["best_step"]
        self.validations_without_improvement = saved["validations_without_improvement"]
        self.seconds = saved.get("seconds", 0.0)  # checkpoints written before the clock was saved lack it
        self.best_model = checkpoint.best_model

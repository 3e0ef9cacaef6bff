"""Training any model of the interface with Lightning Fabric."""

from genmodels.training.config import TrainerConfig
from genmodels.training.trainer import FitResult, Trainer

__all__ = ["FitResult", "Trainer", "TrainerConfig"]

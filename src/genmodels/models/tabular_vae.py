"""A VAE for table rows: a Gaussian per numeric column and a categorical distribution per one-hot group.

Rows arrive encoded by :class:`genmodels.data.tabular.TabularPreprocessor` (standardised numbers
first, then one one-hot group per categorical column); the preprocessor is saved beside the
weights, so a loaded model scores raw tables. ``score`` is the negative importance-weighted
log-likelihood: a density over standardised numbers plus a probability over categories.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch.nn import functional as F

from genmodels.data.tabular import PREPROCESSOR_FILE, TabularPreprocessor
from genmodels.errors import CheckpointError
from genmodels.models.base import register_model
from genmodels.models.vae import VAE, VAEConfig


@dataclass
class TabularVAEConfig(VAEConfig):
    hidden_dim: int = 128
    latent_dim: int = 8
    likelihood: str = "gaussian"
    numeric_features: int = -1
    """Leading numeric features; -1: every feature is numeric."""
    categorical_sizes: tuple[int, ...] = ()
    """Sizes of the one-hot groups that follow the numeric features."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.categorical_sizes = tuple(int(size) for size in self.categorical_sizes)
        width = self.data_shape[0] if len(self.data_shape) == 1 else -1
        if self.numeric_features == -1:
            self.numeric_features = width - sum(self.categorical_sizes)
        if len(self.data_shape) != 1 or self.numeric_features + sum(self.categorical_sizes) != width:
            raise ValueError(
                f"tabular-vae takes rows of shape (features,) = numeric_features + sum(categorical_sizes); got "
                f"data_shape {self.data_shape}, {self.numeric_features} numeric, groups {self.categorical_sizes}"
            )
        if self.likelihood != "gaussian":
            raise ValueError("tabular-vae uses a Gaussian for numbers and a categorical per one-hot group")


@register_model("tabular-vae")
class TabularVAE(VAE):
    """MLP VAE over encoded table rows (Gaussian numbers, categorical one-hot groups); scores raw tables."""

    config_class = TabularVAEConfig
    recommended_data: ClassVar[dict[str, Any]] = {"binarize": False}
    recommended_training: ClassVar[dict[str, Any]] = {
        "learning_rate": 1e-3,
        "monitor": "negative_elbo",
        "batch_size": 64,
        "max_steps": 3000,
        "val_every": 100,
    }

    def __init__(self, config: TabularVAEConfig) -> None:
        super().__init__(config)
        self.preprocessor: TabularPreprocessor | None = None

    def _groups(self) -> list[slice]:
        start, groups = self.config.numeric_features, []
        for size in self.config.categorical_sizes:
            groups.append(slice(start, start + size))
            start += size
        return groups

    def _log_likelihood(self, x_flat: torch.Tensor, parameters: torch.Tensor) -> torch.Tensor:
        x_flat = x_flat.expand_as(parameters)
        numeric = slice(0, self.config.numeric_features)
        scale = self.log_scale[numeric].exp()
        total = torch.distributions.Normal(parameters[..., numeric], scale).log_prob(x_flat[..., numeric]).sum(-1)
        for group in self._groups():
            total = total + (F.log_softmax(parameters[..., group], dim=-1) * x_flat[..., group]).sum(-1)
        return total

    def decode(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Means of the numeric features and category probabilities of each group, ``(batch, features)``."""
        parameters = self._decoder_parameters(z, labels).clone()
        for group in self._groups():
            parameters[..., group] = parameters[..., group].softmax(-1)
        return parameters.view(-1, *self.config.data_shape)

    def save_extras(self, directory: Path) -> list[str]:
        if self.preprocessor is None:
            return []
        self.preprocessor.save(directory)
        return [PREPROCESSOR_FILE]

    def load_extras(self, directory: Path) -> None:
        if not (Path(directory) / PREPROCESSOR_FILE).is_file():
            return
        preprocessor = TabularPreprocessor.load(directory)
        if preprocessor.model_settings() != {
            "numeric_features": self.config.numeric_features,
            "categorical_sizes": list(self.config.categorical_sizes),
        }:
            raise CheckpointError(f"{directory / PREPROCESSOR_FILE} does not match the model's feature layout")
        self.preprocessor = preprocessor

"""A VAE for table rows: a Gaussian per numeric column and a categorical distribution per one-hot group.

Rows arrive encoded by :class:`genmodels.data.tabular.TabularPreprocessor` (standardised numbers
first, then one one-hot group per categorical column); the preprocessor is saved beside the
weights, so a loaded model scores raw tables. ``score`` is the negative importance-weighted
log-likelihood: a density over standardised numbers plus a probability over categories.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch.nn import functional as F

from genmodels.errors import ConfigError
from genmodels.io.validation import PositiveInt
from genmodels.models.registry import register_model
from genmodels.models.tabular.layout import TableLayoutConfig, TableModel
from genmodels.models.vae.base import VAEConfig
from genmodels.models.vae.mlp import VAE


@dataclass
class TabularVAEConfig(VAEConfig, TableLayoutConfig):
    hidden_dim: PositiveInt = 128
    latent_dim: PositiveInt = 8
    likelihood: str = "gaussian"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.likelihood != "gaussian":
            raise ConfigError("tabular-vae uses a Gaussian for numbers and a categorical per one-hot group")


@register_model("tabular-vae")
class TabularVAE(TableModel, VAE):
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

    def _log_likelihood(self, x_flat: torch.Tensor, parameters: torch.Tensor) -> torch.Tensor:
        x_flat = x_flat.expand_as(parameters)
        numeric = slice(0, self.config.numeric_features)
        scale = self.log_scale[numeric].exp()
        total = torch.distributions.Normal(parameters[..., numeric], scale).log_prob(x_flat[..., numeric]).sum(-1)
        for group in self.config.category_groups():
            total = total + (F.log_softmax(parameters[..., group], dim=-1) * x_flat[..., group]).sum(-1)
        return total

    def decode(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Means of the numeric features and category probabilities of each group, ``(batch, features)``."""
        parameters = self._decoder_parameters(z, labels).clone()
        for group in self.config.category_groups():
            parameters[..., group] = parameters[..., group].softmax(-1)
        return parameters.view(-1, *self.config.data_shape)

"""MADE for table rows: an exact autoregressive density over numbers and categories.

Each column is one variable of the chain rule p(x) = prod_v p(x_v | x_<v), in the table's column
order: a numeric column's conditional is a mixture of Gaussians over its standardised value (as
MADE-MoG in Papamakarios et al., 2017), a categorical column's a softmax over its one-hot group. One
masked MLP (Germain et al., 2015) gives every conditional in one pass, so ``log_prob`` is exact
(a density over standardised numbers times a probability over categories) and ``score`` is its
negation; :meth:`TabularMADE.feature_log_probs` says which column makes a row unlikely.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from genmodels.errors import ConfigError
from genmodels.io.validation import PositiveInt, Sizes
from genmodels.models.base import Batch, GenerativeModel, evaluation_result
from genmodels.models.registry import register_model
from genmodels.models.tabular.layout import TableLayoutConfig, TableModel
from genmodels.nn.masked import MaskedLinear, made_masks

LOG_SCALE_RANGE = (-7.0, 5.0)
"""Bounds of each Gaussian component's log standard deviation (standardised units): no collapse onto a point."""


@dataclass
class TabularMADEConfig(TableLayoutConfig):
    hidden_sizes: Sizes = (128,)
    components: PositiveInt = 5
    """Gaussians in each numeric column's conditional mixture."""
    mask_seed: int = 0
    """Seed of the hidden units' connectivity."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.hidden_sizes or min(self.hidden_sizes) < 1 or self.components < 1:
            raise ConfigError(
                f"tabular-made needs hidden layers of at least one unit and at least one mixture component, got "
                f"hidden_sizes {self.hidden_sizes}, components {self.components}"
            )


@register_model("tabular-made")
class TabularMADE(TableModel, GenerativeModel):
    """Masked autoregressive MLP over encoded table rows: Gaussian mixtures for numbers, softmax for categories."""

    config_class = TabularMADEConfig
    log_prob_kind = "exact"
    block_stack = "hidden"
    sampling_controls: ClassVar[tuple[str, ...]] = ()
    recommended_data: ClassVar[dict[str, Any]] = {"binarize": False}
    recommended_training: ClassVar[dict[str, Any]] = {
        "learning_rate": 1e-3,
        "batch_size": 32,
        "max_steps": 2000,
        "val_every": 50,
    }

    def __init__(self, config: TabularMADEConfig) -> None:
        super().__init__(config)
        numeric, groups = config.numeric_features, config.categorical_sizes
        self.variables = numeric + len(groups)
        width = config.data_shape[0]
        self.numeric_outputs = numeric * 3 * config.components
        sizes = [width, *config.hidden_sizes]
        self.hidden = nn.ModuleList(MaskedLinear(a, b) for a, b in zip(sizes[:-1], sizes[1:], strict=True))
        self.output = MaskedLinear(sizes[-1], self.numeric_outputs + sum(groups))
        # the masks of a MADE over the variables, widened to every input column and output unit of each variable
        groups_of_columns = np.repeat(numeric + np.arange(len(groups)), groups)
        column_variable = np.concatenate([np.arange(numeric), groups_of_columns]).astype(int)
        output_variable = np.concatenate([np.repeat(np.arange(numeric), 3 * config.components), groups_of_columns])
        rng = np.random.default_rng(config.mask_seed)
        masks = made_masks(self.variables, config.hidden_sizes, np.arange(self.variables), rng)
        masks[0], masks[-1] = masks[0][:, column_variable], masks[-1][output_variable.astype(int)]
        for layer, mask in enumerate(masks):
            self.register_buffer(f"mask_{layer}", torch.from_numpy(mask), persistent=False)

    def _conditionals(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Mixture logits, means and log scales ``(batch, numeric, components)`` and the category logits."""
        h = x
        for index, layer in enumerate(self.hidden):
            h = F.relu(layer(h, getattr(self, f"mask_{index}")))
        out = self.output(h, getattr(self, f"mask_{len(self.hidden)}"))
        mixture = out[:, : self.numeric_outputs].view(len(x), self.config.numeric_features, 3, self.config.components)
        log_scales = mixture[:, :, 2].clamp(*LOG_SCALE_RANGE)
        return mixture[:, :, 0], mixture[:, :, 1], log_scales, out[:, self.numeric_outputs :]

    def feature_log_probs(self, x: torch.Tensor) -> torch.Tensor:
        """log p(x_v | x_<v) of every column (numbers, then one per categorical group), ``(batch, variables)``."""
        x = self.check_input(x)
        weights, means, log_scales, category_logits = self._conditionals(x)
        numeric = x[:, : self.config.numeric_features, None]
        components = torch.distributions.Normal(means, log_scales.exp()).log_prob(numeric)
        parts = [torch.logsumexp(F.log_softmax(weights, -1) + components, -1)]
        offset = self.config.numeric_features
        for group in self.config.category_groups():
            logits = category_logits[:, group.start - offset : group.stop - offset]
            parts.append((F.log_softmax(logits, -1) * x[:, group]).sum(-1, keepdim=True))
        return torch.cat(parts, dim=1)

    @evaluation_result
    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Exact log p(x): a density over standardised numbers times a probability over categories."""
        return self.feature_log_probs(x).sum(1)

    def loss(self, batch: Batch, phase: str | None = None) -> dict[str, torch.Tensor]:
        nll = -self.log_prob(batch["x"]).mean()
        return {"loss": nll, "nll_per_column": nll / self.variables}

    def _sample(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        """One pass per column, in the chain rule's order; categories come out as one-hot rows."""
        x = torch.zeros(n, *self.config.data_shape, device=self.device)
        offset = self.config.numeric_features
        for variable in range(self.config.numeric_features):
            weights, means, log_scales, _ = self._conditionals(x)
            component = torch.multinomial(weights[:, variable].softmax(-1), 1, generator=generator)
            mean = means[:, variable].gather(1, component).squeeze(1)
            scale = log_scales[:, variable].gather(1, component).squeeze(1).exp()
            x[:, variable] = mean + scale * torch.randn(n, generator=generator, device=self.device)
        for group in self.config.category_groups():
            logits = self._conditionals(x)[3][:, group.start - offset : group.stop - offset]
            category = torch.multinomial(logits.softmax(-1), 1, generator=generator).squeeze(1)
            x[:, group] = F.one_hot(category, group.stop - group.start).to(x.dtype)
        return x

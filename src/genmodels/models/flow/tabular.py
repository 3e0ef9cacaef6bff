"""A normalizing flow over table rows, for synthetic tables.

Rows arrive encoded by :class:`genmodels.data.tabular.TabularPreprocessor` (standardised numbers,
then one-hot groups: categories and missing-value indicators). A flow needs continuous inputs, so
discrete parts are dequantized during training (Uria et al., 2013; Theis et al., 2016): each one-hot
entry gets uniform noise on [0, 1), so category k's rows fill the unit cell where entry k is the
largest, and integer columns get uniform noise one unit wide. Sampling decodes a group by its largest
entry and rounds integers. ``log_prob`` averages log p(x + u) over fixed noise draws, a lower bound
(Jensen) on the log of the density of the numbers times the probability of the categories; it is
exact for tables of continuous numbers only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch

from genmodels.errors import ConfigError
from genmodels.models.base import Batch
from genmodels.models.flow.vector import Flow, FlowConfig
from genmodels.models.registry import register_model
from genmodels.models.tabular.layout import TableLayoutConfig, TableModel


@dataclass
class TabularFlowConfig(FlowConfig, TableLayoutConfig):
    data_shape: tuple[int, ...] = (2,)
    hidden_features: tuple[int, ...] = (64, 64)
    """Kept small (with 3 transforms): a wider flow fits tables of a few hundred rows so closely that its rows
    sit nearer the training rows than held-out rows do, which the privacy check's permutation test flags."""
    transforms: int = 3
    dequantization_samples: int = 8
    """Noise draws averaged in ``log_prob`` (its bound tightens, in expectation, as they grow)."""
    dequantization_seed: int = 0
    """Seed of those draws, so ``log_prob`` of the same rows is the same number."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.dequantization_samples < 1:
            raise ConfigError(f"dequantization_samples must be at least 1, got {self.dequantization_samples}")


@register_model("tabular-flow")
class TabularFlow(TableModel, Flow):
    """Neural spline flow over encoded table rows, dequantizing categories and integers; samples raw tables."""

    config_class = TabularFlowConfig
    log_prob_kind = "elbo"
    recommended_data: ClassVar[dict[str, Any]] = {"binarize": False, "missing_values": "indicator"}
    recommended_training: ClassVar[dict[str, Any]] = {
        "learning_rate": 1e-3,
        "batch_size": 128,
        "max_steps": 3000,
        "val_every": 100,
        "gradient_clip_norm": 5.0,
    }

    def dequantization_widths(self) -> torch.Tensor:
        """Width of the uniform noise on each encoded feature: one unit for integer columns (in standardised
        units), 1 for one-hot entries, 0 for continuous numbers."""
        widths = torch.zeros(self.config.data_shape[0], device=self.device)
        widths[self.config.numeric_features :] = 1.0
        preprocessor = self.preprocessor
        if preprocessor is not None:
            for position, name in enumerate(preprocessor.numeric_columns):
                if name in preprocessor.integer_columns:
                    widths[position] = 1.0 / preprocessor.scales[position]
        return widths

    def _dequantize(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """One-hot entries plus U[0, 1); integer columns plus U[-1/2, 1/2) units."""
        widths = self.dequantization_widths()
        noise = torch.rand(x.shape, generator=generator).to(x.device)
        centred = torch.zeros_like(widths)
        centred[: self.config.numeric_features] = 0.5
        return x + (noise - centred) * widths

    def training_input(self, batch: Batch) -> torch.Tensor:
        return self._dequantize(self.check_input(batch["x"]))

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Mean of log p(x + u) over ``dequantization_samples`` fixed noise draws u: a lower bound on log p(x)."""
        x = self.check_input(x)
        generator = torch.Generator().manual_seed(self.config.dequantization_seed)
        draws = [self.flow_log_prob(self._dequantize(x, generator)) for _ in range(self.config.dequantization_samples)]
        return torch.stack(draws).mean(0)

    def _sample(self, n: int, generator: torch.Generator | None) -> torch.Tensor:
        """Continuous rows from the flow, each one-hot group set to its largest entry."""
        rows = super()._sample(n, generator)
        for group in self.config.category_groups():
            rows[:, group] = torch.nn.functional.one_hot(rows[:, group].argmax(1), group.stop - group.start).to(rows)
        return rows

"""MADE: Masked Autoencoder for Distribution Estimation (Germain et al., 2015).

An MLP whose weight masks let output d see only the inputs before d in an ordering, so its outputs
are the conditionals p(x_d | x_<d) and their product is an exact likelihood. With several masks
(orderings and connectivities) the network is trained on a different mask each step, and at test
time ``ensemble_masks`` of them can be averaged: log p(x) = logsumexp_k log p_k(x) - log K, which
is again an exact likelihood (of the mixture of the K autoregressive models).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from genmodels.errors import ConfigError
from genmodels.io.validation import NonNegativeInt, PositiveInt, Sizes
from genmodels.models.autoregressive.pixels import (
    AutoregressiveImageModel,
    check_pixel_levels,
    class_labels,
    output_size,
    pixel_log_probs,
    pixel_targets,
    sample_pixels,
)
from genmodels.models.base import ModelConfig, evaluation_result
from genmodels.models.registry import register_model
from genmodels.nn.masked import MaskedLinear, made_masks


@dataclass
class MADEConfig(ModelConfig):
    hidden_sizes: Sizes = (500,)
    num_masks: PositiveInt = 1
    """Masks trained in turn (one per step); above 1, orderings and connectivities are drawn at random."""
    natural_ordering: bool = True
    """The first mask uses the raster ordering of pixels; further masks always draw random orderings."""
    ensemble_masks: PositiveInt = 1
    """Masks averaged by ``log_prob`` (at most ``num_masks``)."""
    pixel_levels: PositiveInt = 2
    num_classes: NonNegativeInt = 0
    """Above 0, conditional on class labels (one-hot into every hidden layer)."""
    mask_seed: int = 0

    def __post_init__(self) -> None:
        super().__post_init__()
        check_pixel_levels(self.pixel_levels)
        if not 1 <= self.ensemble_masks <= self.num_masks:
            raise ConfigError(f"ensemble_masks must be in 1..num_masks ({self.num_masks}), got {self.ensemble_masks}")


@register_model("made")
class MADE(AutoregressiveImageModel):
    """Masked autoencoder (MADE) over flattened images: exact log p(x), several orderings, mask ensembles."""

    config_class = MADEConfig
    block_stack = "hidden"
    conditioning_parts = ("label_layers",)
    recommended_training = {"learning_rate": 1e-3, "batch_size": 100, "max_steps": 10000, "val_every": 250}

    def __init__(self, config: MADEConfig) -> None:
        super().__init__(config)
        self.dimensions = math.prod(config.data_shape)
        self.outputs_per_pixel = output_size(config.pixel_levels)
        sizes = [self.dimensions, *config.hidden_sizes]
        self.hidden = nn.ModuleList(MaskedLinear(a, b) for a, b in zip(sizes[:-1], sizes[1:], strict=True))
        self.output = MaskedLinear(sizes[-1], self.dimensions * self.outputs_per_pixel)
        self.label_layers = nn.ModuleList(
            nn.Linear(config.num_classes, size, bias=False) for size in config.hidden_sizes if config.num_classes
        )
        rng = np.random.default_rng(config.mask_seed)
        orderings, masks = [], []
        for index in range(config.num_masks):
            natural = index == 0 and config.natural_ordering
            ordering = np.arange(self.dimensions) if natural else rng.permutation(self.dimensions)
            orderings.append(ordering)
            masks.append(made_masks(self.dimensions, config.hidden_sizes, ordering, rng))
        # the output mask repeats per pixel for every one of its outputs
        for layer_masks in masks:
            layer_masks[-1] = np.repeat(layer_masks[-1], self.outputs_per_pixel, axis=0)
        for layer in range(len(masks[0])):
            stacked = torch.from_numpy(np.stack([mask_set[layer] for mask_set in masks]))
            self.register_buffer(f"masks_{layer}", stacked, persistent=False)
        self.register_buffer("orderings", torch.from_numpy(np.stack(orderings)), persistent=False)
        self.register_buffer("training_masks_used", torch.zeros((), dtype=torch.long))

    def _mask(self, layer: int, index: int) -> torch.Tensor:
        return getattr(self, f"masks_{layer}")[index]

    def logits(self, x: torch.Tensor, mask_index: int = 0, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Conditional logits of every pixel: ``(batch, pixels, outputs_per_pixel)``."""
        h = x.flatten(1)
        one_hot = F.one_hot(labels, self.config.num_classes).to(h.dtype) if labels is not None else None
        for index, layer in enumerate(self.hidden):
            h = layer(h, self._mask(index, mask_index))
            if one_hot is not None:
                h = h + self.label_layers[index](one_hot)
            h = F.relu(h)
        out = self.output(h, self._mask(len(self.hidden), mask_index))
        return out.view(len(x), self.dimensions, self.outputs_per_pixel)  # the output mask repeats per pixel

    def _log_prob_with_mask(self, x: torch.Tensor, mask_index: int, labels: torch.Tensor | None) -> torch.Tensor:
        return self._pixel_log_probs(x, mask_index, labels).sum(1)

    def _pixel_log_probs(self, x: torch.Tensor, mask_index: int, labels: torch.Tensor | None) -> torch.Tensor:
        targets = pixel_targets(x, self.config.pixel_levels, "made").flatten(1)
        inputs = targets.float() / (self.config.pixel_levels - 1)
        return pixel_log_probs(self.logits(inputs, mask_index, labels), targets, self.config.pixel_levels)

    @evaluation_result
    def pixel_log_probs(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """log p(x_d | x_<d) of every pixel under the first mask, ``(batch, *data_shape)``."""
        x = self.check_input(x)
        labels = class_labels(labels, len(x), self.config.num_classes, x.device)
        return self._pixel_log_probs(x, 0, labels).view(len(x), *self.config.data_shape)

    @evaluation_result
    def log_prob(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Exact log p(x) in nats; with ``ensemble_masks`` > 1, of the equal mixture of that many masks."""
        x = self.check_input(x)
        labels = class_labels(labels, len(x), self.config.num_classes, x.device)
        per_mask = torch.stack([self._log_prob_with_mask(x, k, labels) for k in range(self.config.ensemble_masks)])
        return torch.logsumexp(per_mask, dim=0) - math.log(self.config.ensemble_masks)

    def training_log_prob(self, x: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        """In training, the next mask in turn (connectivity-agnostic training); otherwise ``log_prob``."""
        if not self.training:
            return self.log_prob(x, labels)
        x = self.check_input(x)
        labels = class_labels(labels, len(x), self.config.num_classes, x.device)
        mask_index = int(self.training_masks_used) % self.config.num_masks
        self.training_masks_used += 1
        return self._log_prob_with_mask(x, mask_index, labels)

    def _sample(
        self, n: int, generator: torch.Generator | None, labels: torch.Tensor | int | None = None
    ) -> torch.Tensor:
        """Pixel by pixel in the first mask's ordering, all ``n`` samples at once (D network passes)."""
        labels = class_labels(labels, n, self.config.num_classes, self.device)
        x = torch.zeros(n, self.dimensions, device=self.device)
        order = torch.argsort(self.orderings[0])  # pixels in the order they are generated
        for pixel in order.tolist():
            logits = self.logits(x, 0, labels)[:, pixel]
            x[:, pixel] = sample_pixels(logits, self.config.pixel_levels, generator)
        return x.view(n, *self.config.data_shape)

"""Gated PixelCNN (van den Oord et al., 2016, "Conditional Image Generation with PixelCNN Decoders").

Two stacks of convolutions remove the blind spot of the original masked PixelCNN: a vertical
stack sees every row above (and, inside the stack only, the current row), a horizontal stack sees
the pixels to the left in the current row plus the vertical stack shifted down by one row. The
first layer excludes the current pixel; gated activations tanh(a) * sigmoid(b); residual
connections in the horizontal stack; class labels add a learned bias to every gate.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from genmodels.errors import ConfigError
from genmodels.io.validation import NonNegativeInt, PositiveInt
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


@dataclass
class PixelCNNConfig(ModelConfig):
    channels: PositiveInt = 64
    num_layers: NonNegativeInt = 8
    """Gated layers after the first."""
    kernel_size: PositiveInt = 3
    first_kernel_size: PositiveInt = 7
    output_channels: PositiveInt = 256
    pixel_levels: PositiveInt = 2
    num_classes: NonNegativeInt = 0
    """Above 0, conditional on class labels (a learned bias per class in every gate)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        check_pixel_levels(self.pixel_levels)
        if len(self.data_shape) != 3 or self.data_shape[0] != 1:
            raise ConfigError(f"pixelcnn models grey images (1, height, width), got data_shape {self.data_shape}")
        if self.kernel_size % 2 == 0 or self.first_kernel_size % 2 == 0:
            raise ConfigError("kernel sizes must be odd")


class GatedLayer(nn.Module):
    """One gated layer of both stacks; ``first`` excludes the current pixel from the horizontal stack."""

    def __init__(self, in_channels: int, channels: int, kernel_size: int, num_classes: int, first: bool) -> None:
        super().__init__()
        half = kernel_size // 2
        self.first, self.half = first, half
        # vertical: rows i - half .. i, all columns j - half .. j + half
        self.vertical = nn.Conv2d(in_channels, 2 * channels, (half + 1, kernel_size), padding=(half, half))
        # horizontal: row i, columns j - half .. j
        self.horizontal = nn.Conv2d(in_channels, 2 * channels, (1, half + 1), padding=(0, half))
        self.vertical_to_horizontal = nn.Conv2d(2 * channels, 2 * channels, 1)
        self.horizontal_out = nn.Conv2d(channels, channels, 1)
        self.class_bias = nn.Embedding(num_classes, 2 * channels) if num_classes else None

    def forward(
        self, vertical: torch.Tensor, horizontal: torch.Tensor, labels: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        vertical_out, to_horizontal = self.vertical_step(vertical, labels)
        return vertical_out, self.horizontal_step(horizontal, to_horizontal, labels)

    def vertical_step(self, vertical: torch.Tensor, labels: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """The vertical stack's output and what it adds to the horizontal stack (rows above only)."""
        height = vertical.shape[-2]
        v = self.vertical(vertical)[:, :, :height]  # (batch, 2C, H, W): row i sees rows <= i
        # shift the vertical stack down one row before it joins the horizontal one: rows < i only
        to_horizontal = self.vertical_to_horizontal(F.pad(v, (0, 0, 1, 0))[:, :, :height])
        if labels is not None:
            v = v + self._bias(labels)
        return gate(v), to_horizontal

    def horizontal_step(
        self, horizontal: torch.Tensor, to_horizontal: torch.Tensor, labels: torch.Tensor | None
    ) -> torch.Tensor:
        """The horizontal stack: pixels to the left in the row plus the rows above (``to_horizontal``)."""
        width = horizontal.shape[-1]
        h = self.horizontal(horizontal)[:, :, :, :width]  # column j sees columns <= j
        if self.first:  # shift right: column j sees columns < j only
            h = F.pad(h, (1, 0))[:, :, :, :width]
        h = h + to_horizontal
        if labels is not None:
            h = h + self._bias(labels)
        h_out = self.horizontal_out(gate(h))
        return h_out if self.first else h_out + horizontal

    def _bias(self, labels: torch.Tensor) -> torch.Tensor:
        return self.class_bias(labels)[:, :, None, None]


def gate(x: torch.Tensor) -> torch.Tensor:
    content, gates = x.chunk(2, dim=1)
    return torch.tanh(content) * torch.sigmoid(gates)


@register_model("pixelcnn")
class PixelCNN(AutoregressiveImageModel):
    """Gated PixelCNN without a blind spot: exact log p(x) for binary or 8-bit grey images, class-conditional."""

    config_class = PixelCNNConfig
    block_stack = "layers"
    conditioning_parts = ("layers.*.class_bias",)
    recommended_training = {"learning_rate": 1e-3, "batch_size": 64, "max_steps": 5000, "val_every": 250}

    def __init__(self, config: PixelCNNConfig) -> None:
        super().__init__(config)
        c = config.channels
        self.layers = nn.ModuleList(
            [GatedLayer(1, c, config.first_kernel_size, config.num_classes, first=True)]
            + [GatedLayer(c, c, config.kernel_size, config.num_classes, first=False) for _ in range(config.num_layers)]
        )
        self.outputs_per_pixel = output_size(config.pixel_levels)
        self.head = nn.Sequential(
            nn.ReLU(),
            nn.Conv2d(c, config.output_channels, 1),
            nn.ReLU(),
            nn.Conv2d(config.output_channels, self.outputs_per_pixel, 1),
        )

    def logits(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Conditional logits of every pixel: ``(batch, height, width, outputs_per_pixel)``."""
        vertical = horizontal = x
        for layer in self.layers:
            vertical, horizontal = layer(vertical, horizontal, labels)
        return self.head(horizontal).permute(0, 2, 3, 1)

    @evaluation_result
    def pixel_log_probs(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """log p(x_ij | pixels before it) of every pixel, ``(batch, 1, height, width)``."""
        x = self.check_input(x)
        labels = class_labels(labels, len(x), self.config.num_classes, x.device)
        targets = pixel_targets(x, self.config.pixel_levels, "pixelcnn")[:, 0]  # (batch, H, W)
        inputs = targets[:, None].float() / (self.config.pixel_levels - 1)
        return pixel_log_probs(self.logits(inputs, labels), targets, self.config.pixel_levels)[:, None]

    @evaluation_result
    def log_prob(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Exact log p(x) in nats, the sum of every pixel's conditional."""
        return self.pixel_log_probs(x, labels).flatten(1).sum(1)

    def _sample(
        self, n: int, generator: torch.Generator | None, labels: torch.Tensor | int | None = None
    ) -> torch.Tensor:
        """Raster order for all ``n`` samples at once, the rows above computed once per row.

        What the rows above contribute to a row is fixed before its first pixel is drawn, so the
        vertical stacks run once per row and each pixel runs only the horizontal stacks over the
        row's pixels to its left: exactly the logits of the full network, at a fraction of its cost.
        """
        labels = class_labels(labels, n, self.config.num_classes, self.device)
        _, height, width = self.config.data_shape
        x = torch.zeros(n, 1, height, width, device=self.device)
        for row in range(height):
            rows_above = self.rows_above(x[:, :, : row + 1], labels)
            for column in range(width):
                logits = self.row_logits(x[:, :, row : row + 1, : column + 1], rows_above, labels)[:, 0, column]
                x[:, 0, row, column] = sample_pixels(logits, self.config.pixel_levels, generator)
        return x

    def rows_above(self, x: torch.Tensor, labels: torch.Tensor | None) -> list[torch.Tensor]:
        """Each layer's contribution from the rows above the last row of ``x`` to that row."""
        vertical, contributions = x, []
        for layer in self.layers:
            vertical, to_horizontal = layer.vertical_step(vertical, labels)
            contributions.append(to_horizontal[:, :, -1:])
        return contributions

    def row_logits(
        self, row: torch.Tensor, rows_above: list[torch.Tensor], labels: torch.Tensor | None
    ) -> torch.Tensor:
        """Logits of one row's pixels ``(batch, 1, columns, outputs)`` given :meth:`rows_above`."""
        horizontal = row
        for layer, to_horizontal in zip(self.layers, rows_above, strict=True):
            horizontal = layer.horizontal_step(horizontal, to_horizontal[..., : row.shape[-1]], labels)
        return self.head(horizontal).permute(0, 2, 3, 1)

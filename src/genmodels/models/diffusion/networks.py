"""The denoising networks: a small U-Net for images and an MLP for points and flat vectors.

Both map a noisy input, a noise level (one number per row, already in the network's input scale)
and optional class labels to an output of the input's shape; what that output means (a velocity,
a noise or a scaled denoiser residual) is the procedure's business, not the network's. Label
index ``num_classes`` is the "no label" class that classifier-free guidance trains with
(Ho & Salimans, 2021).
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

GROUPS = 8
"""Group-norm groups (Wu & He, 2018); every U-Net width must be a multiple of it."""


class NoiseLevelEmbedding(nn.Module):
    """Sinusoidal features of the noise level (Vaswani et al., 2017; Ho et al., 2020) through a two-layer MLP."""

    def __init__(self, width: int, num_classes: int) -> None:
        super().__init__()
        self.frequencies = width // 2
        self.mlp = nn.Sequential(nn.Linear(2 * self.frequencies, width), nn.SiLU(), nn.Linear(width, width))
        self.label_embedding = nn.Embedding(num_classes + 1, width) if num_classes else None

    def forward(self, noise_level: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        exponents = torch.arange(self.frequencies, device=noise_level.device, dtype=noise_level.dtype)
        frequencies = torch.exp(-math.log(10_000.0) * exponents / self.frequencies)
        angles = noise_level[:, None] * frequencies[None, :]  # (batch, frequencies)
        embedding = self.mlp(torch.cat([angles.cos(), angles.sin()], dim=1))
        if self.label_embedding is not None and labels is not None:
            embedding = embedding + self.label_embedding(labels)
        return embedding


class ResidualBlock(nn.Module):
    """GroupNorm, SiLU, 3x3 convolution twice (Ho et al., 2020); the embedding scales and shifts the second
    normalisation's output (adaptive group norm, Dhariwal & Nichol, 2021), so no normalisation removes it."""

    def __init__(self, in_channels: int, out_channels: int, embedding_width: int) -> None:
        super().__init__()
        self.norm1 = nn.GroupNorm(GROUPS, in_channels)
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, padding=1)
        self.embedding = nn.Linear(embedding_width, 2 * out_channels)
        self.norm2 = nn.GroupNorm(GROUPS, out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, padding=1)
        self.skip = nn.Conv2d(in_channels, out_channels, 1) if in_channels != out_channels else nn.Identity()

    def forward(self, x: torch.Tensor, embedding: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.silu(self.norm1(x)))
        scale, shift = self.embedding(F.silu(embedding))[:, :, None, None].chunk(2, dim=1)
        h = self.conv2(F.silu(self.norm2(h) * (1.0 + scale) + shift))
        return self.skip(x) + h


class SelfAttention(nn.Module):
    """Single-head self-attention over pixel positions, residual (as at DDPM's lowest resolution)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm = nn.GroupNorm(GROUPS, channels)
        self.attention = nn.MultiheadAttention(channels, num_heads=1, batch_first=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, channels, height, width = x.shape
        tokens = self.norm(x).flatten(2).transpose(1, 2)  # (batch, height * width, channels)
        attended, _ = self.attention(tokens, tokens, tokens, need_weights=False)
        return x + attended.transpose(1, 2).reshape(batch, channels, height, width)


class UNet(nn.Module):
    """A U-Net (Ronneberger et al., 2015) as in DDPM: ``len(widths)`` resolutions, each halving the side.

    ``blocks_per_level`` residual blocks per resolution on the way down and up, skip connections
    between them, optional self-attention at the lowest resolution.
    """

    def __init__(
        self, channels: int, widths: tuple[int, ...], blocks_per_level: int, attention: bool, num_classes: int
    ) -> None:
        super().__init__()
        embedding_width = 4 * widths[0]
        self.embed = NoiseLevelEmbedding(embedding_width, num_classes)
        self.stem = nn.Conv2d(channels, widths[0], 3, padding=1)
        self.down = nn.ModuleList()
        self.downsample = nn.ModuleList()
        skip_widths = [widths[0]]
        width = widths[0]
        for level, level_width in enumerate(widths):
            for _ in range(blocks_per_level):
                self.down.append(ResidualBlock(width, level_width, embedding_width))
                width = level_width
                skip_widths.append(width)
            if level < len(widths) - 1:
                self.downsample.append(nn.Conv2d(width, width, 3, stride=2, padding=1))
                skip_widths.append(width)
        self.middle = nn.ModuleList(
            [ResidualBlock(width, width, embedding_width), ResidualBlock(width, width, embedding_width)]
        )
        self.attention = SelfAttention(width) if attention else nn.Identity()
        self.up = nn.ModuleList()
        self.upsample = nn.ModuleList()
        for level, level_width in reversed(list(enumerate(widths))):
            for _ in range(blocks_per_level + 1):
                self.up.append(ResidualBlock(width + skip_widths.pop(), level_width, embedding_width))
                width = level_width
            if level > 0:
                self.upsample.append(nn.Conv2d(width, width, 3, padding=1))
        self.head = nn.Sequential(nn.GroupNorm(GROUPS, width), nn.SiLU(), nn.Conv2d(width, channels, 3, padding=1))
        nn.init.zeros_(self.head[-1].weight)
        nn.init.zeros_(self.head[-1].bias)
        self.levels, self.blocks_per_level = len(widths), blocks_per_level

    def forward(self, x: torch.Tensor, noise_level: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        embedding = self.embed(noise_level, labels)
        h = self.stem(x)
        skips = [h]
        blocks = iter(self.down)
        for level in range(self.levels):
            for _ in range(self.blocks_per_level):
                h = next(blocks)(h, embedding)
                skips.append(h)
            if level < self.levels - 1:
                h = self.downsample[level](h)
                skips.append(h)
        h = self.middle[0](h, embedding)
        h = self.middle[1](self.attention(h), embedding)
        blocks = iter(self.up)
        for level in range(self.levels):
            for _ in range(self.blocks_per_level + 1):
                h = next(blocks)(torch.cat([h, skips.pop()], dim=1), embedding)
            if level < self.levels - 1:
                h = self.upsample[level](F.interpolate(h, scale_factor=2.0, mode="nearest"))
        return self.head(h)


class PointMLP(nn.Module):
    """An MLP over flat vectors (2-D points, features) with the noise-level embedding added to every hidden layer."""

    def __init__(self, features: int, hidden_dim: int, depth: int, num_classes: int) -> None:
        super().__init__()
        self.embed = NoiseLevelEmbedding(hidden_dim, num_classes)
        self.input = nn.Linear(features, hidden_dim)
        self.hidden = nn.ModuleList([nn.Linear(hidden_dim, hidden_dim) for _ in range(depth)])
        self.output = nn.Linear(hidden_dim, features)

    def forward(self, x: torch.Tensor, noise_level: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        embedding = self.embed(noise_level, labels)
        h = self.input(x)
        for layer in self.hidden:
            h = layer(F.silu(h + embedding))
        return self.output(F.silu(h))

"""Masked linear layers and the MADE masks that make an MLP autoregressive (Germain et al., 2015).

Shared by the image MADE and the tabular MADE.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F


class MaskedLinear(nn.Linear):
    """A linear layer whose weight is multiplied by a 0/1 mask ``(out, in)`` chosen per call."""

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return F.linear(x, self.weight * mask, self.bias)


def made_masks(
    dimensions: int, hidden_sizes: tuple[int, ...], ordering: np.ndarray, rng: np.random.Generator
) -> list[np.ndarray]:
    """Masks of one MADE connectivity; ``ordering[d]`` is the position of input d in the chain rule (0-based).

    Hidden unit k of layer l gets a degree m(k) in [min degree below, D - 2]; it may see units of
    degree <= m(k), and output d may see hidden units of degree < ordering[d].
    """
    degrees = [ordering]
    for size in hidden_sizes:
        low = min(int(degrees[-1].min()), dimensions - 2)
        degrees.append(rng.integers(low, max(dimensions - 1, low + 1), size=size))
    masks = [(later[:, None] >= earlier[None, :]) for earlier, later in zip(degrees[:-1], degrees[1:], strict=True)]
    masks.append(ordering[:, None] > degrees[-1][None, :])
    return [mask.astype(np.float32) for mask in masks]

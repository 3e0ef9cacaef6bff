"""Minibatch optimal-transport coupling of noise and data (Tong et al., 2024; Pooladian et al., 2023).

Within a batch, each data point is paired with the noise draw an exact assignment solver gives it
under squared Euclidean cost, so the conditional paths cross less and the learned flow is straighter.
"""

from __future__ import annotations

import torch
from scipy.optimize import linear_sum_assignment


def ot_pair_noise(data: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
    """``noise`` reordered so row i is the noise assigned to ``data[i]`` (Hungarian algorithm, exact)."""
    cost = torch.cdist(data.flatten(1).double(), noise.flatten(1).double()).square()  # (batch, batch)
    rows, columns = linear_sum_assignment(cost.cpu().numpy())
    order = torch.as_tensor(columns[rows.argsort()], device=noise.device)
    return noise[order]

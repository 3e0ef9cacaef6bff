"""The realism voter: how far inside the real data's k-nearest-neighbour balls a candidate lies.

Kynkäänniemi et al. (2019, section 5) rank single samples by their realism score
R(x) = max_j r_j / ||x - y_j||, where y_j are real rows and r_j the distance from y_j to its k-th
nearest real neighbour: R >= 1 inside some real row's ball, the higher the deeper. Here it is
computed in the data space itself, so it needs no feature network and votes alike for every member:
a non-parametric voter calibrated on real data, next to the members' likelihoods and the critic.
Unlike the paper, every real row keeps its ball: leaving out the half with the largest balls (the
paper's guard against outliers) made the mnist5k vote prefer the dense regions and lose recall
(an exploration described in docs/benchmarks.md, ensembles section).
It rewards candidates close to real rows, so a member that copies its training data would win
every vote; check novelty (distance to the nearest training row) beside it.
"""

from __future__ import annotations

import torch

from genmodels.errors import ConfigError

CHUNK_ROWS = 1000
"""Candidates compared with the reference per distance matrix: bounds the memory of one block."""


def realism_reference(
    real: torch.Tensor, neighbours: int = 5, max_rows: int = 5000, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """Real rows (flattened) and the distance from each to its k-th nearest other row.

    At most ``max_rows`` real rows (a seeded random subset) are compared, so the reference stays
    small enough to save with the ensemble.
    """
    rows = real.flatten(1).float()
    if len(rows) <= neighbours:
        raise ConfigError(f"the realism voter needs more than {neighbours} real rows (its k), got {len(rows)}")
    if len(rows) > max_rows:
        rows = rows[torch.randperm(len(rows), generator=torch.Generator().manual_seed(seed))[:max_rows]]
    radii = torch.cat([
        torch.cdist(chunk, rows).topk(neighbours + 1, largest=False).values[:, -1] for chunk in rows.split(CHUNK_ROWS)
    ])  # fmt: skip  # neighbour 0 is the row itself
    return rows, radii


def realism_scores(candidates: torch.Tensor, rows: torch.Tensor, radii: torch.Tensor) -> torch.Tensor:
    """R(x) = max_j r_j / ||x - y_j|| of every candidate, ``(candidates,)``; higher looks more real."""
    flat = candidates.flatten(1).to(rows)
    return torch.cat([
        (radii[None] / torch.cdist(chunk, rows).clamp_min(1e-12)).amax(1) for chunk in flat.split(CHUNK_ROWS)
    ])  # fmt: skip

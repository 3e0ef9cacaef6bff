"""Strata for the vote: cells of the real data that the kept samples fill in the real data's shares.

A vote that keeps its best-ranked candidates changes what kinds of samples are kept, not only how
good they are: every voter prefers some regions (simple digits, one class), and the kept set drifts
there, losing recall. Strata fix the kinds and leave the voters to choose within each: k-means
cells of real rows (in the data space), each with its share of the real rows; of ``n`` samples,
a cell keeps its share (largest remainders rounded up) of the best candidates that fall in it.
This also corrects the members' proportions where they over- or under-fill a region, as
stratified importance resampling does with the density ratio of the cells.
"""

from __future__ import annotations

import numpy as np
import torch
from sklearn.cluster import KMeans

from genmodels.errors import ConfigError


def fit_strata(real: torch.Tensor, cells: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """k-means centres ``(cells, features)`` of the flattened real rows and each cell's share of them."""
    rows = real.flatten(1).double().cpu().numpy()
    if len(rows) < cells:
        raise ConfigError(f"{cells} strata need at least as many real rows, got {len(rows)}")
    means = KMeans(cells, n_init=4, random_state=seed).fit(rows)
    shares = np.bincount(means.labels_, minlength=cells) / len(rows)
    return torch.from_numpy(means.cluster_centers_).float(), torch.from_numpy(shares).float()


def assign_strata(x: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
    """The nearest centre of every row, ``(rows,)``."""
    flat = x.flatten(1).to(centres)
    return torch.cat([torch.cdist(chunk, centres).argmin(1) for chunk in flat.split(1000)])


def quotas(shares: torch.Tensor, n: int) -> torch.Tensor:
    """``n`` split by ``shares`` in whole numbers: floors, then one more for the largest remainders."""
    exact = shares.double() / shares.sum() * n
    counts = exact.floor().long()
    counts[torch.argsort(exact - counts, descending=True, stable=True)[: n - int(counts.sum())]] += 1
    return counts


def stratified_selection(order: torch.Tensor, strata: torch.Tensor, shares: torch.Tensor, n: int) -> torch.Tensor:
    """``n`` candidates: each stratum's quota of its best (first in ``order``), topped up by the best of the rest.

    ``order`` ranks candidate indices best first; ``strata`` is every candidate's cell. A cell with
    fewer candidates than its quota gives them all, and the best remaining candidates fill the gap.
    Returns the kept indices in the order of ``order``.
    """
    cells = strata[order].cpu()
    by_cell = torch.argsort(cells, stable=True)  # positions in ``order``, grouped by cell, best first
    starts = torch.searchsorted(cells[by_cell], cells[by_cell])
    rank_in_cell = torch.empty_like(by_cell)
    rank_in_cell[by_cell] = torch.arange(len(by_cell)) - starts
    within_quota = rank_in_cell < quotas(shares.cpu(), n)[cells]
    chosen = within_quota.nonzero().flatten()
    extra = (~within_quota).nonzero().flatten()[: max(n - len(chosen), 0)]
    return order[torch.sort(torch.cat([chosen, extra])).values[:n].to(order.device)]

"""The vote: every member proposes candidates, every voter ranks them, and the best are kept.

Every member proposes ``candidates`` samples per sample wanted; every voter scores every candidate
(the members' likelihoods or bounds and GAN members' discriminators, a fitted critic, or the
realism score: :mod:`genmodels.ensembles.voters`). Each voter's scores become ranks, so no
voter's scale dominates and any monotone rescaling of a voter changes nothing; the Borda count
(Borda, 1781; the sum of ranks) decides, and the best candidates are kept. It assumes only that
each voter scores better samples higher, and trusts the order of its scores, not their values.

With ``aggregation="majority"`` each voter instead accepts the candidates it scores at least as
well as all but ``vote_false_rejection`` of real held-out data (its threshold); candidates accepted
by the most voters are kept, as in approval voting (Brams and Fishburn, 1978), Borda breaking ties.
With strata (:mod:`genmodels.ensembles.voters.strata`) k-means cells of real data each keep their
share of real data among the kept samples, so the voters choose within a kind of sample and cannot
change the mix of kinds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from scipy.stats import rankdata

from genmodels.ensembles.voters.strata import stratified_selection
from genmodels.models.base import GenerativeModel


def propose(
    members: Sequence[GenerativeModel], count: int, generator: torch.Generator | None, **controls: Any
) -> tuple[torch.Tensor, torch.Tensor]:
    """``count`` candidates of every member, pooled ``(members * count, *data_shape)``, and the member of each."""
    pool = torch.cat([member.sample(count, generator=generator, **controls) for member in members])
    sources = torch.arange(len(members)).repeat_interleave(count)
    return pool, sources


def pooled_proposals(members: Sequence[GenerativeModel], n: int) -> torch.Tensor:
    """``n`` samples, the members in equal shares (the vote's proposal pool), shuffled."""
    shares = torch.full((len(members),), n // len(members))
    shares[: n % len(members)] += 1
    pool = torch.cat([member.sample(int(k)) for member, k in zip(members, shares, strict=True) if k])
    return pool[torch.randperm(n, device=pool.device)]


def rank_normalise(scores: torch.Tensor) -> torch.Tensor:
    """Each row's values as ranks in [0, 1] (ties share their mean rank): invariant to monotone rescaling."""
    ranks = rankdata(scores.detach().double().cpu().numpy(), method="average", axis=1) - 1
    return torch.from_numpy(ranks / max(scores.shape[1] - 1, 1)).to(scores.device)


def borda_count(voter_scores: torch.Tensor) -> torch.Tensor:
    """The Borda count of every candidate: the sum over voters of its rank (Borda, 1781)."""
    return rank_normalise(voter_scores).sum(0)


def acceptance_thresholds(votes: torch.Tensor, false_rejection: float) -> torch.Tensor:
    """Each voter's threshold ``(voters,)``: the score below which ``false_rejection`` of real rows' ``votes`` fall."""
    return torch.quantile(votes, false_rejection, dim=1)


def count_approvals(votes: torch.Tensor, thresholds: Sequence[float]) -> torch.Tensor:
    """How many voters accept each candidate, from ``(voters, candidates)`` scores and one threshold per voter."""
    thresholds = torch.tensor(thresholds, dtype=votes.dtype, device=votes.device)
    return (votes >= thresholds[:, None]).sum(0)


def select_candidates(
    votes: torch.Tensor,
    n: int,
    approvals: torch.Tensor | None = None,
    strata: tuple[torch.Tensor, torch.Tensor] | None = None,
) -> torch.Tensor:
    """The indices of the ``n`` candidates kept, best first, from the voters' ``(voters, candidates)`` scores.

    Ordered by Borda count, or by ``approvals`` with Borda within a count; with ``strata`` (every
    candidate's cell, and each cell's share) each cell keeps its share of the ``n``.
    """
    order = torch.argsort(borda_count(votes), descending=True, stable=True)
    if approvals is not None:
        order = order[torch.argsort(approvals[order], descending=True, stable=True)]  # Borda within a count
    if strata is None:
        return order[:n]
    cells, shares = strata
    return stratified_selection(order, cells, shares, n)

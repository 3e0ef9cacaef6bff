"""The members as voters: each votes for the candidates it finds likely.

A member with a likelihood or a bound votes with it; a GAN member, which has none, with its
discriminator (its anomaly score negated). Each scores on its own scale; the vote only uses the
order of a voter's scores (:func:`genmodels.ensembles.vote.rank_normalise`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from genmodels.models.base import GenerativeModel


def member_votes(members: Sequence[GenerativeModel], chunks: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """Every member's preference for every candidate (higher = better), the candidates given in ``chunks``."""
    votes = []
    with torch.no_grad():
        for member in members:
            if member.log_prob_kind != "none":
                votes.append(torch.cat([member.log_prob(chunk) for chunk in chunks]))
            else:
                votes.append(-torch.cat([member.score(chunk) for chunk in chunks]))
    return votes

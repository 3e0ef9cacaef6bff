"""The members as voters: each votes for the candidates it finds likely.

A member with a likelihood or a bound votes with it; a GAN member, which has none, with its
discriminator (its anomaly score negated). Each scores on its own scale; the vote only uses the
order of a voter's scores (:func:`genmodels.ensembles.vote.rank_normalise`). A member sees the
candidates prepared as its training data were (``prepare``: binarized for a member trained on
binarized pixels).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from genmodels.models.base import GenerativeModel


def member_votes(
    members: Sequence[GenerativeModel],
    chunks: Sequence[torch.Tensor],
    prepare: Callable[[int, torch.Tensor], torch.Tensor],
) -> list[torch.Tensor]:
    """Every member's preference for every candidate (higher = better), the candidates given in ``chunks``.

    ``prepare(index, chunk)`` gives member ``index`` the chunk as its training data looked.
    """
    votes = []
    with torch.no_grad():
        for index, member in enumerate(members):
            if member.log_prob_kind != "none":
                votes.append(torch.cat([member.log_prob(prepare(index, chunk)) for chunk in chunks]))
            else:
                votes.append(-torch.cat([member.score(prepare(index, chunk)) for chunk in chunks]))
    return votes

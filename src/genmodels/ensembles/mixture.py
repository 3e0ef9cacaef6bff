"""The mixture: pick member k with probability w_k, then sample from it.

For members with exact likelihoods, the ensemble's ``log_prob`` is the mixture's exact
log sum_k w_k p_k(x), and the weights can be fitted by expectation-maximisation on held-out data
with the members held fixed (Dempster, Laird and Rubin, 1977). With bounds (ELBO,
importance-weighted) it is the same combination of the bounds, named by the weakest member kind.
It assumes nothing of the members for sampling; a member without a likelihood (a GAN) leaves the
mixture without one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

import torch

KIND_ORDER = ("none", "elbo", "importance_weighted", "hutchinson", "exact")
"""Kinds of ``log_prob``, weakest guarantee first."""


def weakest_kind(kinds: Iterable[str]) -> str:
    """The kind of a mixture's ``log_prob``: the weakest guarantee among its members'."""
    return min(kinds, key=KIND_ORDER.index)


def mixture_log_prob(log_weights: torch.Tensor, member_log_probs: torch.Tensor) -> torch.Tensor:
    """log sum_k w_k p_k(x) from log w ``(members,)`` and log p_k(x) ``(members, batch)``."""
    return torch.logsumexp(log_weights[:, None] + member_log_probs, dim=0)


def fit_mixture_weights(
    member_log_probs: torch.Tensor, log_weights: torch.Tensor, iterations: int = 100, tolerance: float = 1e-8
) -> torch.Tensor:
    """Maximum-likelihood log weights by EM from ``log_weights``, the members fixed: w_k = mean responsibility.

    ``member_log_probs`` is log p_k(x) of held-out rows, ``(members, batch)``; stops once no log
    weight moves by more than ``tolerance``. Returns float64 log weights.
    """
    member_log_probs, log_weights = member_log_probs.double(), log_weights.double()
    for _ in range(iterations):
        joint = log_weights[:, None] + member_log_probs
        responsibilities = (joint - torch.logsumexp(joint, dim=0)).exp()
        updated = responsibilities.mean(1).clamp_min(1e-12).log()
        converged = (updated - log_weights).abs().max() < tolerance
        log_weights = updated
        if converged:
            break
    return log_weights


def sample_mixture(
    weights: torch.Tensor,
    n: int,
    draw: Callable[[int, int], torch.Tensor],
    generator: torch.Generator | None,
    data_shape: tuple[int, ...],
    device: torch.device,
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` samples, each from member k with probability w_k, and the member of each ``(n,)``.

    ``draw(k, count)`` returns ``count`` samples of member k: plain sampling, or a filter such as
    discriminator rejection sampling.
    """
    sources = torch.multinomial(weights.cpu(), n, replacement=True, generator=cpu_generator(generator))
    samples = torch.empty(n, *data_shape, device=device)
    for index in range(len(weights)):
        chosen = (sources == index).nonzero().flatten()
        if len(chosen):
            samples[chosen.to(device)] = draw(index, len(chosen))
    return samples, sources


def cpu_generator(generator: torch.Generator | None) -> torch.Generator | None:
    """Member choice draws on the CPU; a CUDA generator seeds a CPU one from its own state."""
    if generator is None or generator.device.type == "cpu":
        return generator
    return torch.Generator().manual_seed(int(torch.randint(2**62, (), generator=generator, device=generator.device)))

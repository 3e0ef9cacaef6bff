"""Ensembles of saved generative models, themselves a model with the common interface.

Strategies, and what each assumes:

- ``mixture``: pick a member with probability w_k, then sample from it. For members with exact
  likelihoods, ``log_prob`` is the mixture's exact log sum_k w_k p_k(x); the weights can be fitted
  by expectation-maximisation on held-out data (:meth:`Ensemble.fit_weights`). With bounds (ELBO,
  importance-weighted) it is the same combination of the bounds, named by the weakest member kind.
- ``vote``: every member proposes ``candidates`` samples per sample wanted; every voter scores
  every candidate (voters: the members' likelihoods or bounds, and the discriminators or critics
  of GAN members); each voter's scores become ranks, so no voter's scale dominates and any
  monotone rescaling of a voter changes nothing; the Borda count (sum of ranks) decides, and the
  best candidates are kept. :attr:`Ensemble.last_sources` tells which member each came from.

An ensemble's ``score`` (anomaly) is the mean of its members' score ranks over the batch scored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from scipy.stats import rankdata
from torch import nn

from genmodels.models.base import GenerativeModel, ModelConfig, get_model_class, register_model

STRATEGIES = ("mixture", "vote")
KIND_ORDER = ("none", "elbo", "importance_weighted", "exact")


@dataclass
class EnsembleConfig(ModelConfig):
    member_types: tuple[str, ...] = ()
    member_configs: tuple[dict, ...] = ()
    weights: tuple[float, ...] = ()
    """Mixture weights (normalised); empty: equal."""
    strategy: str = "mixture"
    candidates: int = 4
    """For ``vote``: candidates proposed by every member per sample kept."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.member_types or len(self.member_types) != len(self.member_configs):
            raise ValueError("an ensemble needs one or more members, each with its type and config")
        if self.weights and (len(self.weights) != len(self.member_types) or min(self.weights) < 0):
            raise ValueError(f"weights must be {len(self.member_types)} non-negative numbers, got {self.weights}")
        if self.strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}, got {self.strategy!r}")
        if self.candidates < 1:
            raise ValueError(f"candidates must be at least 1, got {self.candidates}")


def ensemble_of(members: list[GenerativeModel], weights: list[float] | None = None, **settings: Any) -> Ensemble:
    """An ensemble of loaded models with the same data shape; their weights are copied in."""
    if any(getattr(member, "tokenizer", None) or getattr(member, "preprocessor", None) for member in members):
        raise ValueError("ensembles of text or table models (saved with a tokenizer or preprocessor) are not supported")
    shapes = {tuple(member.config.data_shape) for member in members}
    if len(shapes) != 1:
        raise ValueError(f"ensemble members must model the same data shape, got {sorted(shapes)}")
    config = EnsembleConfig(
        data_shape=shapes.pop(),
        member_types=tuple(member.model_type for member in members),
        member_configs=tuple(member.config.to_dict() for member in members),
        weights=tuple(weights or ()),
        **settings,
    )
    ensemble = Ensemble(config)
    for slot, member in zip(ensemble.members, members, strict=True):
        slot.load_state_dict(member.state_dict())
    return ensemble.eval()


@register_model("ensemble")
class Ensemble(GenerativeModel):
    """Several saved models combined by a mixture or by voting (Borda count over rank-normalised voters)."""

    config_class = EnsembleConfig

    def __init__(self, config: EnsembleConfig) -> None:
        super().__init__(config)
        self.members = nn.ModuleList(
            get_model_class(kind)(get_model_class(kind).config_class.from_dict(values))
            for kind, values in zip(config.member_types, config.member_configs, strict=True)
        )
        weights = torch.tensor(config.weights or [1.0] * len(self.members), dtype=torch.float64)
        self.register_buffer("log_weights", (weights / weights.sum()).log().float())
        self.last_sources: torch.Tensor | None = None

    @property
    def log_prob_kind(self) -> str:  # the weakest guarantee among the members
        return min((member.log_prob_kind for member in self.members), key=KIND_ORDER.index)

    @property
    def weights(self) -> torch.Tensor:
        return self.log_weights.exp()

    def loss(self, batch: Any, phase: str | None = None) -> dict[str, torch.Tensor]:
        """Members are trained on their own; the ensemble's loss is its mixture NLL, for evaluation."""
        return {"loss": -self.log_prob(batch["x"]).mean()}

    # --- mixture ------------------------------------------------------------------------------
    def member_log_probs(self, x: torch.Tensor) -> torch.Tensor:
        """log p_k(x) of every member, ``(members, batch)``."""
        if self.log_prob_kind == "none":
            raise NotImplementedError("a member has no likelihood (a GAN), so the mixture has none")
        return torch.stack([member.log_prob(x) for member in self.members])

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """log sum_k w_k p_k(x): exact when every member's ``log_prob`` is exact."""
        return torch.logsumexp(self.log_weights[:, None] + self.member_log_probs(self.check_input(x)), dim=0)

    def fit_weights(self, x: torch.Tensor, iterations: int = 100, tolerance: float = 1e-8) -> list[float]:
        """Maximum-likelihood mixture weights on held-out ``x`` by EM (members fixed): w_k = mean responsibility."""
        with torch.no_grad():
            member_log_probs = self.member_log_probs(self.check_input(x)).double()
            log_weights = self.log_weights.double()
            for _ in range(iterations):
                joint = log_weights[:, None] + member_log_probs
                responsibilities = (joint - torch.logsumexp(joint, dim=0)).exp()
                updated = responsibilities.mean(1).clamp_min(1e-12).log()
                converged = (updated - log_weights).abs().max() < tolerance
                log_weights = updated
                if converged:
                    break
            self.log_weights.copy_(log_weights.float())
        self.config.weights = tuple(self.weights.tolist())
        return list(self.config.weights)

    # --- sampling -------------------------------------------------------------------------------
    def _sample(
        self,
        n: int,
        generator: torch.Generator | None,
        strategy: str | None = None,
        candidates: int | None = None,
        **controls: Any,
    ) -> torch.Tensor:
        strategy = strategy or self.config.strategy
        if strategy == "mixture":
            return self._sample_mixture(n, generator, **controls)
        if strategy == "vote":
            return self._sample_vote(n, generator, candidates or self.config.candidates, **controls)
        raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}, got {strategy!r}")

    def _sample_mixture(self, n: int, generator: torch.Generator | None, **controls: Any) -> torch.Tensor:
        sources = torch.multinomial(self.weights.cpu(), n, replacement=True, generator=_cpu(generator))
        samples = torch.empty(n, *self.config.data_shape, device=self.device)
        for index, member in enumerate(self.members):
            chosen = (sources == index).nonzero().flatten()
            if len(chosen):
                samples[chosen.to(self.device)] = member.sample(len(chosen), generator=generator, **controls)
        self.last_sources = sources
        return samples

    def _sample_vote(self, n: int, generator: torch.Generator | None, candidates: int, **controls: Any) -> torch.Tensor:
        proposals = [member.sample(n * candidates, generator=generator, **controls) for member in self.members]
        pool = torch.cat(proposals)  # (members * n * candidates, *data_shape)
        sources = torch.arange(len(self.members)).repeat_interleave(n * candidates)
        borda = borda_count(self.voter_scores(pool))
        kept = torch.argsort(borda, descending=True, stable=True)[:n]
        self.last_sources = sources[kept.cpu()]
        return pool[kept]

    def voter_scores(self, candidates: torch.Tensor) -> torch.Tensor:
        """Every voter's preference for every candidate (higher = better), ``(voters, candidates)``.

        Members with a likelihood or bound vote with it; GAN members with their discriminator (the
        negated anomaly score).
        """
        votes = []
        with torch.no_grad():
            for member in self.members:
                chunks = candidates.split(500)
                if member.log_prob_kind != "none":
                    votes.append(torch.cat([member.log_prob(chunk) for chunk in chunks]))
                else:
                    votes.append(-torch.cat([member.score(chunk) for chunk in chunks]))
        return torch.stack(votes)

    def score(self, x: torch.Tensor) -> torch.Tensor:
        """Anomaly score: the mean over members of each row's score rank within the batch (0 to 1)."""
        with torch.no_grad():
            scores = torch.stack([member.score(x) for member in self.members])
        return rank_normalise(scores).mean(0)


def rank_normalise(scores: torch.Tensor) -> torch.Tensor:
    """Each row's values as ranks in [0, 1] (ties share their mean rank): invariant to monotone rescaling."""
    ranks = rankdata(scores.detach().double().cpu().numpy(), method="average", axis=1) - 1
    return torch.from_numpy(ranks / max(scores.shape[1] - 1, 1)).to(scores.device)


def borda_count(voter_scores: torch.Tensor) -> torch.Tensor:
    """The Borda count of every candidate: the sum over voters of its rank (Borda, 1781)."""
    return rank_normalise(voter_scores).sum(0)


def _cpu(generator: torch.Generator | None) -> torch.Generator | None:
    """Member choice draws on the CPU; a CUDA generator seeds a CPU one from its own state."""
    if generator is None or generator.device.type == "cpu":
        return generator
    return torch.Generator().manual_seed(int(torch.randint(2**62, (), generator=generator, device=generator.device)))

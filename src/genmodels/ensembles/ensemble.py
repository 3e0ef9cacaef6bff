"""Ensembles of saved generative models, themselves a model with the common interface.

The :class:`Ensemble` holds the members and what fitting sets (mixture weights, the vote's
critic, reference rows, strata and thresholds, the anomaly score's reference); each strategy
lives in a module of its own, which says what it assumes:

- ``mixture`` (:mod:`genmodels.ensembles.mixture`): pick a member with probability w_k, then
  sample from it; ``log_prob`` is the mixture's, and :meth:`Ensemble.fit_weights` fits w by EM.
- ``vote`` (:mod:`genmodels.ensembles.vote`): every member proposes candidates, voters
  (:mod:`genmodels.ensembles.voters`: the members, a critic, the realism score) rank them, the
  Borda count or a majority of calibrated voters keeps the best, optionally within strata.
  :attr:`Ensemble.last_sources` tells which member each kept sample came from.
- ``rejection`` (:mod:`genmodels.ensembles.rejection`): members are picked as in the mixture; a
  GAN member's samples pass discriminator rejection sampling (Azadi et al., 2019).

Its anomaly ``score`` (:mod:`genmodels.ensembles.anomaly`) puts the members' own named scores on
one scale with reference scores of normal data (:meth:`Ensemble.calibrate_scores`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import torch
from torch import nn

from genmodels.ensembles.anomaly import check_reference, combine_scores, score_reference
from genmodels.ensembles.config import STRATEGIES, EnsembleConfig
from genmodels.ensembles.mixture import fit_mixture_weights, mixture_log_prob, sample_mixture, weakest_kind
from genmodels.ensembles.rejection import rejection_sample
from genmodels.ensembles.vote import (
    acceptance_thresholds,
    count_approvals,
    pooled_proposals,
    propose,
    select_candidates,
)
from genmodels.ensembles.voters.critic import VoteCritic, critic_votes, fit_vote_critic
from genmodels.ensembles.voters.members import member_votes
from genmodels.ensembles.voters.realism import realism_reference, realism_scores
from genmodels.ensembles.voters.strata import assign_strata, fit_strata
from genmodels.errors import ConfigError
from genmodels.models.base import GenerativeModel, evaluation_result
from genmodels.models.registry import get_model_class, register_model
from genmodels.models.saving import CONFIG_NAME, read_config

VOTE_CHUNK_ROWS = 500
"""Candidates a member or the critic scores at once."""


def ensemble_of(members: list[GenerativeModel], weights: list[float] | None = None, **settings: Any) -> Ensemble:
    """An ensemble of loaded models with the same data shape; their weights are copied in."""
    if any(getattr(member, "tokenizer", None) or getattr(member, "preprocessor", None) for member in members):
        raise ConfigError(
            "ensembles of text or table models (saved with a tokenizer or preprocessor) are not supported"
        )
    shapes = {tuple(member.config.data_shape) for member in members}
    if len(shapes) != 1:
        raise ConfigError(f"ensemble members must model the same data shape, got {sorted(shapes)}")
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


def trained_on_binarized(path: str | Path) -> bool:
    """Whether the model saved at ``path`` (a model or run directory) was trained on binarized pixels."""
    directory = Path(path)
    if not (directory / CONFIG_NAME).is_file():  # a run directory holds its model in model/, as load() reads it
        directory = directory / "model"
    return bool((read_config(directory).get("data") or {}).get("binarized", False))


@register_model("ensemble")
class Ensemble(GenerativeModel):
    """Several saved models combined by a mixture or by voting (Borda count over rank-normalised voters)."""

    config_class = EnsembleConfig
    score_is_nll = False  # its score combines members' standardised scores or ranks

    def __init__(self, config: EnsembleConfig) -> None:
        super().__init__(config)
        self.members = nn.ModuleList(
            get_model_class(kind)(get_model_class(kind).config_class.from_dict(values))
            for kind, values in zip(config.member_types, config.member_configs, strict=True)
        )
        weights = torch.tensor(config.weights or [1.0] * len(self.members), dtype=torch.float64)
        self.register_buffer("log_weights", (weights / weights.sum()).log().float())
        self.critic: VoteCritic | None = None
        if config.voters in ("critic", "all"):
            self.critic = VoteCritic(tuple(config.data_shape), config.critic_hidden)
            self.register_buffer("critic_fitted", torch.tensor(False))
        features = math.prod(config.data_shape)
        if config.voters == "realism":
            self.register_buffer("realism_reference", torch.zeros(config.realism_rows, features))
            self.register_buffer("realism_radii", torch.zeros(config.realism_rows))
        if config.vote_strata:
            self.register_buffer("strata_centres", torch.zeros(config.vote_strata, features))
            self.register_buffer("strata_shares", torch.zeros(config.vote_strata))
        self.last_sources: torch.Tensor | None = None
        self.last_acceptance: dict[int, float] = {}
        """For ``rejection``: the acceptance rate of each GAN member in the last call."""
        self.last_approvals: torch.Tensor | None = None
        """For ``majority``: how many voters accepted each sample of the last call."""
        self.score_reference: dict[str, Any] | None = None
        for member, name in zip(self.members, self.score_names, strict=True):
            if name not in member.anomaly_scores():
                offered = ", ".join(member.anomaly_scores())
                raise ConfigError(f"score {name!r} does not apply to a {member.model_type} member; it offers {offered}")

    @property
    def log_prob_kind(self) -> str:  # the weakest guarantee among the members
        return weakest_kind(member.log_prob_kind for member in self.members)

    @property
    def weights(self) -> torch.Tensor:
        return self.log_weights.exp()

    @property
    def likelihood_missing(self) -> str | None:
        """Why the mixture has no likelihood: a member without one, or members of differently prepared data."""
        named = [f"member {index} ({member.model_type})" for index, member in enumerate(self.members)]
        without = [name for name, member in zip(named, self.members, strict=True) if member.log_prob_kind == "none"]
        if without:
            verb = "has" if len(without) == 1 else "have"
            return f"{', '.join(without)} {verb} no likelihood, so the mixture has none"
        if len(set(self.config.member_binarized)) > 1:
            binarized = [name for name, flag in zip(named, self.config.member_binarized, strict=True) if flag]
            return (
                f"{', '.join(binarized)} model binarized pixels and the others grey ones: their likelihoods are of "
                "different data; retrain them with the same --binarize/--no-binarize for a mixture likelihood"
            )
        return None

    def member_input(self, index: int, x: torch.Tensor) -> torch.Tensor:
        """``x`` as member ``index``'s training data looked: thresholded at 1/2 for a member trained on binarized
        pixels (the likeliest of its Bernoulli binarizations), as given otherwise."""
        if self.config.member_binarized and self.config.member_binarized[index]:
            return (x > 0.5).to(x.dtype)
        return x

    def loss(self, batch: Any, phase: str | None = None) -> dict[str, torch.Tensor]:
        """Members are trained on their own; the ensemble's loss is its mixture NLL, for evaluation.

        Without a likelihood (a GAN member) there is nothing to average: the ensemble has no loss.
        """
        if self.likelihood_missing:
            return {}
        return {"loss": -self.log_prob(batch["x"]).mean()}

    # --- mixture (genmodels.ensembles.mixture) ---------------------------------------------------
    def member_log_probs(self, x: torch.Tensor) -> torch.Tensor:
        """log p_k(x) of every member, ``(members, batch)``."""
        if self.likelihood_missing:
            raise NotImplementedError(self.likelihood_missing)
        return torch.stack([member.log_prob(self.member_input(index, x)) for index, member in enumerate(self.members)])

    @evaluation_result
    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """log sum_k w_k p_k(x): exact when every member's ``log_prob`` is exact."""
        return mixture_log_prob(self.log_weights, self.member_log_probs(self.check_input(x)))

    def fit_weights(self, x: torch.Tensor, iterations: int = 100, tolerance: float = 1e-8) -> list[float]:
        """Maximum-likelihood mixture weights on held-out ``x`` by EM (members fixed): w_k = mean responsibility."""
        with torch.no_grad():
            member_log_probs = self.member_log_probs(self.check_input(x))
            self.log_weights.copy_(fit_mixture_weights(member_log_probs, self.log_weights, iterations, tolerance))
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
        if strategy in ("mixture", "rejection"):
            return self._sample_mixture(n, generator, rejection=strategy == "rejection", **controls)
        if strategy == "vote":
            return self._sample_vote(n, generator, candidates or self.config.candidates, **controls)
        raise ConfigError(f"strategy must be one of {', '.join(STRATEGIES)}, got {strategy!r}")

    def _sample_mixture(
        self, n: int, generator: torch.Generator | None, rejection: bool = False, **controls: Any
    ) -> torch.Tensor:
        """The mixture's samples; with ``rejection``, GAN members' samples pass discriminator rejection sampling."""
        self.last_acceptance = {}
        burn_in, percentile = self.config.rejection_burn_in, self.config.rejection_percentile

        def draw(index: int, count: int) -> torch.Tensor:
            member = self.members[index]
            if rejection and hasattr(member, "discriminate"):
                drawn, self.last_acceptance[index] = rejection_sample(
                    member, count, generator, burn_in, percentile, **controls
                )
                return drawn
            return member.sample(count, generator=generator, **controls)

        samples, self.last_sources = sample_mixture(
            self.weights, n, draw, generator, tuple(self.config.data_shape), self.device
        )
        return samples

    def _sample_vote(self, n: int, generator: torch.Generator | None, candidates: int, **controls: Any) -> torch.Tensor:
        """The ``n`` candidates the voters prefer of ``candidates`` per sample from every member."""
        majority = self.config.aggregation == "majority"
        if majority and not self.config.vote_thresholds:
            raise RuntimeError(
                "majority voting needs each voter's acceptance threshold: call calibrate_votes(real_validation_data) "
                "first (genmodels ensemble create --calibrate does)"
            )
        pool, sources = propose(self.members, n * candidates, generator, **controls)
        votes = self.voter_scores(pool)
        approvals = self.voter_approvals(votes) if majority else None
        strata = (self._strata_of(pool), self.strata_shares) if self.config.vote_strata else None
        kept = select_candidates(votes, n, approvals, strata)
        if approvals is not None:
            self.last_approvals = approvals[kept].cpu()
        self.last_sources = sources[kept.cpu()]
        return pool[kept]

    # --- the vote's voters (genmodels.ensembles.vote, genmodels.ensembles.voters) ------------------
    def calibrate_votes(self, x: torch.Tensor) -> list[float]:
        """Each voter's acceptance threshold: the score below which ``vote_false_rejection`` of real ``x`` falls."""
        votes = self.voter_scores(self.check_input(x)).cpu()
        self.config.vote_thresholds = tuple(acceptance_thresholds(votes, self.config.vote_false_rejection).tolist())
        return list(self.config.vote_thresholds)

    def voter_approvals(self, votes: torch.Tensor) -> torch.Tensor:
        """How many voters accept each candidate, from ``(voters, candidates)`` scores and the calibrated thresholds."""
        return count_approvals(votes, self.config.vote_thresholds)

    def voter_scores(self, candidates: torch.Tensor) -> torch.Tensor:
        """Every voter's preference for every candidate (higher = better), ``(voters, candidates)``.

        Members with a likelihood or bound vote with it; GAN members with their discriminator (the
        negated anomaly score); the critic, when there is one, with its real-versus-pool logit; the
        realism voter with the candidate's realism score against its real reference rows.
        """
        chunks = candidates.split(VOTE_CHUNK_ROWS)
        with_members = self.config.voters in ("members", "all")
        votes = member_votes(self.members, chunks, self.member_input) if with_members else []
        if self.critic is not None:
            if not bool(self.critic_fitted):
                raise RuntimeError("the critic votes once fitted: call fit_vote_critic(real, real_validation)")
            votes.append(critic_votes(self.critic, chunks))
        if self.config.voters == "realism":
            if not self.config.realism_rows:
                raise RuntimeError("the realism voter needs real reference rows: call fit_vote_realism(real)")
            with torch.no_grad():
                votes.append(realism_scores(candidates, self.realism_reference, self.realism_radii))
        return torch.stack([vote.double() for vote in votes])

    def fit_vote_critic(self, real: torch.Tensor, real_validation: torch.Tensor, **settings: Any) -> dict[str, float]:
        """Train the critic on real rows against the members' samples in equal shares, the vote's pool.

        ``settings`` go to :func:`~genmodels.ensembles.voters.critic.fit_vote_critic` (steps, batch size, seed).
        Returns the critic's held-out loss and accuracy.
        """
        if self.critic is None:
            raise ConfigError('this ensemble votes with its members only; create it with voters="critic" or "all"')
        real, real_validation = self.check_input(real), self.check_input(real_validation)
        with torch.enable_grad():
            report = fit_vote_critic(
                self.critic, real, real_validation, lambda n: pooled_proposals(self.members, n), **settings
            )
        self.critic_fitted.fill_(True)
        return report

    def fit_vote_realism(self, real: torch.Tensor, max_rows: int = 5000, seed: int = 0) -> dict[str, float]:
        """Keep real rows and their k-th-neighbour radii (:func:`~.voters.realism.realism_reference`).

        At most ``max_rows`` rows are kept (a seeded subset), all saved with the ensemble.
        """
        if self.config.voters != "realism":
            raise ConfigError('this ensemble does not vote by realism; create it with voters="realism"')
        rows, radii = realism_reference(self.check_input(real), self.config.realism_neighbours, max_rows, seed)
        self.realism_reference, self.realism_radii = rows.to(self.device), radii.to(self.device)
        self.config.realism_rows = len(rows)
        return {"reference_rows": len(rows), "median_radius": float(radii.median())}

    def fit_vote_strata(self, real: torch.Tensor, seed: int = 0) -> list[float]:
        """k-means cells of real rows and their shares (:func:`~genmodels.ensembles.voters.strata.fit_strata`)."""
        if not self.config.vote_strata:
            raise ConfigError("this ensemble votes without strata; create it with vote_strata > 0")
        centres, shares = fit_strata(self.check_input(real), self.config.vote_strata, seed)
        self.strata_centres.copy_(centres)
        self.strata_shares.copy_(shares)
        return shares.tolist()

    def _strata_of(self, candidates: torch.Tensor) -> torch.Tensor:
        """Every candidate's stratum, once the strata are fitted."""
        if not bool(self.strata_shares.sum()):
            raise RuntimeError("the vote keeps the shares of its strata once fitted: call fit_vote_strata(real)")
        return assign_strata(candidates, self.strata_centres)

    # --- anomaly scores (genmodels.ensembles.anomaly) ---------------------------------------------
    @property
    def score_names(self) -> tuple[str, ...]:
        """The anomaly score each member contributes (``member_scores``, or ``nll``; ``critic`` for GANs)."""
        if self.config.member_scores:
            return self.config.member_scores
        return tuple(next(iter(member.anomaly_scores())) for member in self.members)

    def member_scores(self, x: torch.Tensor) -> torch.Tensor:
        """Every member's named anomaly score of every row, ``(members, batch)``."""
        scorers = [member.anomaly_scores()[name] for member, name in zip(self.members, self.score_names, strict=True)]
        with torch.no_grad():
            return torch.stack(
                [scorer(self.member_input(index, x)).double().cpu() for index, scorer in enumerate(scorers)]
            )

    def calibrate_scores(self, x: torch.Tensor) -> dict[str, Any]:
        """Keep quantiles, mean and spread of each member's scores on normal rows ``x``: the scale of :meth:`score`."""
        scores = self.member_scores(self.check_input(x)).numpy()
        self.score_reference = score_reference(scores, self.config.combination, self.score_names)
        return self.score_reference

    def load_score_calibration(self, values: dict[str, Any]) -> None:
        """Restore a member reference, refusing one calibrated for another combination or other member scores."""
        check_reference(values, self.config.combination, self.score_names)
        self.score_reference = values

    @evaluation_result
    def score(self, x: torch.Tensor) -> torch.Tensor:
        """Anomaly score: members' reference CDFs (``rank``, 0 to 1) or standardised scores (``mean``), averaged."""
        if self.score_reference is None:
            raise RuntimeError(
                "an ensemble scores on its members' reference scale: call calibrate_scores(normal_rows) first "
                "(Detector.fit does)"
            )
        scores = self.member_scores(self.check_input(x)).numpy()
        return torch.from_numpy(combine_scores(scores, self.score_reference, self.config.combination)).to(self.device)

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
  With ``aggregation="majority"`` each voter instead accepts the candidates it scores at least as
  well as all but ``vote_false_rejection`` of real held-out data (thresholds from
  :meth:`Ensemble.calibrate_votes`); candidates accepted by the most voters are kept, Borda breaking ties.
  With ``voters="critic"`` (or ``"all"``) a critic fitted on real data against the pooled proposals
  (:meth:`Ensemble.fit_vote_critic`, :mod:`genmodels.ensembles.voters.critic`) votes alone (or with the members);
  with ``voters="realism"`` the realism score of each candidate against real rows
  (:meth:`Ensemble.fit_vote_realism`, :mod:`genmodels.ensembles.voters.realism`) votes alone.
  With ``vote_strata`` k-means cells of real data (:meth:`Ensemble.fit_vote_strata`,
  :mod:`genmodels.ensembles.voters.strata`) each keep their share of real data among the kept samples, so
  the voters choose within a kind of sample and cannot change the mix of kinds.
- ``rejection``: members are picked as in the mixture; a GAN member's samples then pass discriminator
  rejection sampling (Azadi et al., 2019). It assumes a discriminator trained with the logistic
  (non-saturating) loss, whose logit estimates log p_data(x) / p_G(x); members trained with the
  hinge or Wasserstein loss are refused. Other members' samples are kept as drawn.

An ensemble's anomaly ``score`` puts its members on one scale with reference scores of normal
data (:meth:`Ensemble.calibrate_scores`, which the detector calls): ``mean`` averages members'
standardised scores, ``rank`` each member's empirical CDF on that reference (which saturates at 1
beyond the largest reference score, so far-out rows tie). Each member scores with its own named
anomaly score (``member_scores``: e.g. the complexity-corrected NLL of one member beside the plain
NLL of another), its NLL or critic by default.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from scipy.stats import rankdata
from torch import nn

from genmodels.ensembles.voters.critic import VoteCritic, fit_vote_critic
from genmodels.ensembles.voters.realism import realism_reference, realism_scores
from genmodels.ensembles.voters.strata import assign_strata, fit_strata, stratified_selection
from genmodels.models.base import GenerativeModel, ModelConfig
from genmodels.models.registry import get_model_class, register_model

if TYPE_CHECKING:
    from genmodels.models.gan.base import BaseGAN

STRATEGIES = ("mixture", "vote", "rejection")
AGGREGATIONS = ("borda", "majority")
VOTERS = ("members", "critic", "realism", "all")
"""``all``: the members and the critic."""
COMBINATIONS = ("mean", "rank")
KIND_ORDER = ("none", "elbo", "importance_weighted", "exact")
REFERENCE_QUANTILES = 1001
"""Quantiles of each member's reference scores kept: the empirical CDF to 0.1% resolution."""


@dataclass
class EnsembleConfig(ModelConfig):
    member_types: tuple[str, ...] = ()
    member_configs: tuple[dict, ...] = ()
    weights: tuple[float, ...] = ()
    """Mixture weights (normalised); empty: equal."""
    strategy: str = "mixture"
    candidates: int = 4
    """For ``vote``: candidates proposed by every member per sample kept."""
    aggregation: str = "borda"
    """For ``vote``: ``borda`` (sum of ranks) or ``majority`` (voters' calibrated acceptances, then Borda)."""
    voters: str = "members"
    """For ``vote``: the members' likelihoods and discriminators, a fitted real-versus-pool ``critic``, the
    ``realism`` score against real rows, or ``all`` (members and critic)."""
    critic_hidden: int = 256
    """Width of the critic's two hidden layers."""
    realism_neighbours: int = 5
    """For the realism voter: k of the real rows' k-nearest-neighbour balls."""
    realism_rows: int = 0
    """Real reference rows the realism voter keeps, set by :meth:`Ensemble.fit_vote_realism` (sizes the saved rows)."""
    vote_strata: int = 0
    """For ``vote``: k-means cells of real data whose shares the kept samples keep; 0: no strata."""
    vote_false_rejection: float = 0.1
    """For ``majority``: the share of real held-out data each voter's acceptance threshold rejects."""
    vote_thresholds: tuple[float, ...] = ()
    """For ``majority``: one acceptance threshold per voter, set by :meth:`Ensemble.calibrate_votes`."""
    rejection_percentile: float = 0.8
    """For ``rejection``: the shift gamma puts this quantile of a burn-in's F(x) at acceptance probability 1/2."""
    rejection_burn_in: int = 2000
    """For ``rejection``: generated samples that set the largest discriminator logit and gamma."""
    combination: str = "mean"
    """Anomaly score: ``mean`` (mean of standardised scores) or ``rank`` (mean of members' reference CDFs)."""
    member_scores: tuple[str, ...] = ()
    """Each member's anomaly score by name (``nll``, ``input_complexity``, ``reconstruction``...); empty: ``nll``."""

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
        if self.aggregation not in AGGREGATIONS:
            raise ValueError(f"aggregation must be one of {', '.join(AGGREGATIONS)}, got {self.aggregation!r}")
        if not 0 < self.vote_false_rejection < 1:
            raise ValueError(f"vote_false_rejection must be in (0, 1), got {self.vote_false_rejection}")
        if self.voters not in VOTERS:
            raise ValueError(f"voters must be one of {', '.join(VOTERS)}, got {self.voters!r}")
        if self.critic_hidden < 1:
            raise ValueError(f"critic_hidden must be at least 1, got {self.critic_hidden}")
        if self.realism_neighbours < 1 or self.realism_rows < 0 or self.vote_strata < 0:
            raise ValueError("realism_neighbours must be positive, realism_rows and vote_strata non-negative")
        if self.vote_thresholds and len(self.vote_thresholds) != self.num_voters:
            raise ValueError(f"vote_thresholds must be one per voter ({self.num_voters}): {self.vote_thresholds}")
        if not 0 < self.rejection_percentile < 1 or self.rejection_burn_in < 1:
            raise ValueError("rejection_percentile must be in (0, 1) and rejection_burn_in positive")
        if self.member_scores and len(self.member_scores) != len(self.member_types):
            raise ValueError(f"member_scores must name one score per member ({len(self.member_types)}), "
                             f"got {self.member_scores}")  # fmt: skip
        if self.combination not in COMBINATIONS:
            raise ValueError(f"combination must be one of {', '.join(COMBINATIONS)}, got {self.combination!r}")

    @property
    def num_voters(self) -> int:
        members = len(self.member_types) if self.voters in ("members", "all") else 0
        return members + (self.voters != "members")


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
                raise ValueError(f"score {name!r} does not apply to a {member.model_type} member; it offers "
                                 f"{', '.join(member.anomaly_scores())}")  # fmt: skip

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
        if strategy == "rejection":
            return self._sample_mixture(n, generator, rejection=True, **controls)
        raise ValueError(f"strategy must be one of {', '.join(STRATEGIES)}, got {strategy!r}")

    def _sample_mixture(
        self, n: int, generator: torch.Generator | None, rejection: bool = False, **controls: Any
    ) -> torch.Tensor:
        sources = torch.multinomial(self.weights.cpu(), n, replacement=True, generator=_cpu(generator))
        samples = torch.empty(n, *self.config.data_shape, device=self.device)
        self.last_acceptance = {}
        for index, member in enumerate(self.members):
            chosen = (sources == index).nonzero().flatten()
            if not len(chosen):
                continue
            if rejection and hasattr(member, "discriminate"):
                drawn, self.last_acceptance[index] = self._rejection_sample(member, len(chosen), generator, **controls)
            else:
                drawn = member.sample(len(chosen), generator=generator, **controls)
            samples[chosen.to(self.device)] = drawn
        self.last_sources = sources
        return samples

    def _rejection_sample(
        self, member: BaseGAN, n: int, generator: torch.Generator | None, **controls: Any
    ) -> tuple[torch.Tensor, float]:
        """Discriminator rejection sampling (Azadi et al., 2019, Algorithm 1): ``n`` samples and the acceptance rate.

        Accept x with probability sigmoid(F(x)), F(x) = D(x) - D_M - log(1 - exp(D(x) - D_M - eps)) - gamma,
        where D is the discriminator's logit, D_M the largest seen so far, and gamma is set on a burn-in.
        """
        if member.config.loss != "nonsaturating":
            raise ValueError(
                f"rejection sampling needs a discriminator trained with the nonsaturating loss; this member "
                f"used {member.config.loss!r}, whose critic does not estimate a density ratio"
            )

        def logits(images: torch.Tensor) -> torch.Tensor:
            with torch.no_grad():
                return torch.cat([member.discriminate(chunk * 2.0 - 1.0) for chunk in images.split(500)]).double()

        burn_in = logits(member.sample(self.config.rejection_burn_in, generator=generator, **controls))
        largest = float(burn_in.max())
        gamma = float(torch.quantile(_rejection_f(burn_in, largest), self.config.rejection_percentile))
        kept, proposed, accepted = [], 0, 0  # the rate counts every accepted proposal, also those beyond n
        while accepted < n:
            batch = member.sample(max(n - accepted, 500), generator=generator, **controls)
            scores = logits(batch)
            largest = max(largest, float(scores.max()))
            probability = torch.sigmoid(_rejection_f(scores, largest) - gamma)
            uniform = torch.rand(len(batch), generator=generator, device=batch.device, dtype=torch.float64)
            keep = (uniform < probability).nonzero().flatten()
            kept.append(batch[keep])
            proposed, accepted = proposed + len(batch), accepted + len(keep)
        return torch.cat(kept)[:n], accepted / proposed

    def _sample_vote(self, n: int, generator: torch.Generator | None, candidates: int, **controls: Any) -> torch.Tensor:
        majority = self.config.aggregation == "majority"
        if majority and not self.config.vote_thresholds:
            raise RuntimeError(
                "majority voting needs each voter's acceptance threshold: call calibrate_votes(real_validation_data) "
                "first (genmodels ensemble create --calibrate does)"
            )
        proposals = [member.sample(n * candidates, generator=generator, **controls) for member in self.members]
        pool = torch.cat(proposals)  # (members * n * candidates, *data_shape)
        sources = torch.arange(len(self.members)).repeat_interleave(n * candidates)
        votes = self.voter_scores(pool)
        order = torch.argsort(borda_count(votes), descending=True, stable=True)
        if majority:
            approvals = self.voter_approvals(votes)
            order = order[torch.argsort(approvals[order], descending=True, stable=True)]  # Borda within a count
        if self.config.vote_strata:
            if not bool(self.strata_shares.sum()):
                raise RuntimeError("the vote keeps the shares of its strata once fitted: call fit_vote_strata(real)")
            kept = stratified_selection(order, assign_strata(pool, self.strata_centres), self.strata_shares, n)
        else:
            kept = order[:n]
        if majority:
            self.last_approvals = approvals[kept].cpu()
        self.last_sources = sources[kept.cpu()]
        return pool[kept]

    def calibrate_votes(self, x: torch.Tensor) -> list[float]:
        """Each voter's acceptance threshold: the score below which ``vote_false_rejection`` of real ``x`` falls."""
        votes = self.voter_scores(self.check_input(x)).cpu()
        thresholds = torch.quantile(votes, self.config.vote_false_rejection, dim=1)
        self.config.vote_thresholds = tuple(thresholds.tolist())
        return list(self.config.vote_thresholds)

    def voter_approvals(self, votes: torch.Tensor) -> torch.Tensor:
        """How many voters accept each candidate, from ``(voters, candidates)`` scores and the calibrated thresholds."""
        thresholds = torch.tensor(self.config.vote_thresholds, dtype=votes.dtype, device=votes.device)
        return (votes >= thresholds[:, None]).sum(0)

    def voter_scores(self, candidates: torch.Tensor) -> torch.Tensor:
        """Every voter's preference for every candidate (higher = better), ``(voters, candidates)``.

        Members with a likelihood or bound vote with it; GAN members with their discriminator (the
        negated anomaly score); the critic, when there is one, with its real-versus-pool logit; the
        realism voter with the candidate's realism score against its real reference rows.
        """
        votes = []
        chunks = candidates.split(500)
        with torch.no_grad():
            for member in self.members if self.config.voters in ("members", "all") else ():
                if member.log_prob_kind != "none":
                    votes.append(torch.cat([member.log_prob(chunk) for chunk in chunks]))
                else:
                    votes.append(-torch.cat([member.score(chunk) for chunk in chunks]))
            if self.critic is not None:
                if not bool(self.critic_fitted):
                    raise RuntimeError("the critic votes once fitted: call fit_vote_critic(real, real_validation)")
                self.critic.eval()
                votes.append(torch.cat([self.critic(chunk) for chunk in chunks]))
            if self.config.voters == "realism":
                if not self.config.realism_rows:
                    raise RuntimeError("the realism voter needs real reference rows: call fit_vote_realism(real)")
                votes.append(realism_scores(candidates, self.realism_reference, self.realism_radii))
        return torch.stack([vote.double() for vote in votes])

    def fit_vote_critic(self, real: torch.Tensor, real_validation: torch.Tensor, **settings: Any) -> dict[str, float]:
        """Train the critic on real rows against the members' samples in equal shares, the vote's pool.

        ``settings`` go to :func:`~genmodels.ensembles.voters.critic.fit_vote_critic` (steps, batch size, seed).
        Returns the critic's held-out loss and accuracy.
        """
        if self.critic is None:
            raise ValueError('this ensemble votes with its members only; create it with voters="critic" or "all"')
        real, real_validation = self.check_input(real), self.check_input(real_validation)
        with torch.enable_grad():
            report = fit_vote_critic(self.critic, real, real_validation, self._pooled_proposals, **settings)
        self.critic_fitted.fill_(True)
        return report

    def fit_vote_realism(self, real: torch.Tensor, max_rows: int = 5000, seed: int = 0) -> dict[str, float]:
        """Keep real rows and their k-th-neighbour radii (:func:`~.voters.realism.realism_reference`).

        At most ``max_rows`` rows are kept (a seeded subset), all saved with the ensemble.
        """
        if self.config.voters != "realism":
            raise ValueError('this ensemble does not vote by realism; create it with voters="realism"')
        rows, radii = realism_reference(self.check_input(real), self.config.realism_neighbours, max_rows, seed)
        self.realism_reference, self.realism_radii = rows.to(self.device), radii.to(self.device)
        self.config.realism_rows = len(rows)
        return {"reference_rows": len(rows), "median_radius": float(radii.median())}

    def fit_vote_strata(self, real: torch.Tensor, seed: int = 0) -> list[float]:
        """k-means cells of real rows and their shares (:func:`~genmodels.ensembles.voters.strata.fit_strata`)."""
        if not self.config.vote_strata:
            raise ValueError("this ensemble votes without strata; create it with vote_strata > 0")
        centres, shares = fit_strata(self.check_input(real), self.config.vote_strata, seed)
        self.strata_centres.copy_(centres)
        self.strata_shares.copy_(shares)
        return shares.tolist()

    def _pooled_proposals(self, n: int) -> torch.Tensor:
        """``n`` samples, the members in equal shares (the vote's proposal pool), shuffled."""
        shares = torch.full((len(self.members),), n // len(self.members))
        shares[: n % len(self.members)] += 1
        pool = torch.cat([member.sample(int(k)) for member, k in zip(self.members, shares, strict=True) if k])
        return pool[torch.randperm(n, device=pool.device)]

    # --- anomaly scores ---------------------------------------------------------------------------
    @property
    def score_names(self) -> tuple[str, ...]:
        """The anomaly score each member contributes (``member_scores``, or ``nll``; ``critic`` for GANs)."""
        if self.config.member_scores:
            return self.config.member_scores
        return tuple(next(iter(member.anomaly_scores())) for member in self.members)

    def member_scores(self, x: torch.Tensor) -> torch.Tensor:
        """Every member's named anomaly score of every row, ``(members, batch)``."""
        with torch.no_grad():
            return torch.stack([member.anomaly_scores()[name](x).double().cpu()
                                for member, name in zip(self.members, self.score_names, strict=True)])  # fmt: skip

    def calibrate_scores(self, x: torch.Tensor) -> dict[str, Any]:
        """Keep quantiles, mean and spread of each member's scores on normal rows ``x``: the scale of :meth:`score`."""
        scores = self.member_scores(self.check_input(x)).numpy()
        levels = np.linspace(0, 1, REFERENCE_QUANTILES)
        self.score_reference = {
            "combination": self.config.combination,
            "member_scores": list(self.score_names),
            "quantiles": np.quantile(scores, levels, axis=1).T.tolist(),
            "mean": scores.mean(1).tolist(),
            "std": scores.std(1).tolist(),
        }
        return self.score_reference

    def load_score_calibration(self, values: dict[str, Any]) -> None:
        """Restore a member reference, refusing one calibrated for another combination or other member scores."""
        for key, mine in (("combination", self.config.combination), ("member_scores", list(self.score_names))):
            if key in values and values[key] != mine:
                raise ValueError(
                    f"this calibration was made for {key} {values[key]!r}, the ensemble has {mine!r}: "
                    "calibrate it again (genmodels detect calibrate)"
                )
        self.score_reference = values

    def score(self, x: torch.Tensor) -> torch.Tensor:
        """Anomaly score: members' reference CDFs (``rank``, 0 to 1) or standardised scores (``mean``), averaged."""
        if self.score_reference is None:
            raise RuntimeError(
                "an ensemble scores on its members' reference scale: call calibrate_scores(normal_rows) first "
                "(Detector.fit does)"
            )
        scores = self.member_scores(self.check_input(x)).numpy()
        reference = self.score_reference
        if self.config.combination == "mean":
            mean, std = np.asarray(reference["mean"])[:, None], np.asarray(reference["std"])[:, None]
            combined = ((scores - mean) / np.maximum(std, 1e-12)).mean(0)
        else:
            levels = np.linspace(0, 1, REFERENCE_QUANTILES)
            combined = np.mean([np.interp(row, quantiles, levels) for row, quantiles in
                                zip(scores, reference["quantiles"], strict=True)], axis=0)  # fmt: skip
        return torch.from_numpy(combined).to(self.device)


def _rejection_f(logits: torch.Tensor, largest: float, epsilon: float = 1e-6) -> torch.Tensor:
    """F(x) of discriminator rejection sampling before the shift gamma."""
    difference = logits - largest
    return difference - torch.log1p(-torch.exp(difference - epsilon))


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

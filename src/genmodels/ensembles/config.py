"""Settings of an ensemble: its members, the strategy that combines them, the vote's voters, the anomaly score.

Saved as JSON with every ensemble; the thresholds, reference rows and strata that fitting sets are
kept here (or sized here, for the tensors saved beside the members' weights), so a saved ensemble
loads back exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

from genmodels.errors import ConfigError
from genmodels.io.validation import NonNegativeFloat, NonNegativeInt, PositiveInt
from genmodels.models.base import ModelConfig

STRATEGIES = ("mixture", "vote", "rejection")
AGGREGATIONS = ("borda", "majority")
VOTERS = ("members", "critic", "realism", "all")
"""``all``: the members and the critic."""
COMBINATIONS = ("mean", "rank")


@dataclass
class EnsembleConfig(ModelConfig):
    member_types: tuple[str, ...] = ()
    member_configs: tuple[dict, ...] = ()
    weights: tuple[NonNegativeFloat, ...] = ()
    """Mixture weights (normalised); empty: equal."""
    strategy: str = "mixture"
    candidates: PositiveInt = 4
    """For ``vote``: candidates proposed by every member per sample kept."""
    aggregation: str = "borda"
    """For ``vote``: ``borda`` (sum of ranks) or ``majority`` (voters' calibrated acceptances, then Borda)."""
    voters: str = "members"
    """For ``vote``: the members' likelihoods and discriminators, a fitted real-versus-pool ``critic``, the
    ``realism`` score against real rows, or ``all`` (members and critic)."""
    critic_hidden: PositiveInt = 256
    """Width of the critic's two hidden layers."""
    realism_neighbours: PositiveInt = 5
    """For the realism voter: k of the real rows' k-nearest-neighbour balls."""
    realism_rows: NonNegativeInt = 0
    """Real reference rows the realism voter keeps, set by :meth:`Ensemble.fit_vote_realism` (sizes the saved rows)."""
    vote_strata: NonNegativeInt = 0
    """For ``vote``: k-means cells of real data whose shares the kept samples keep; 0: no strata."""
    vote_false_rejection: float = 0.1
    """For ``majority``: the share of real held-out data each voter's acceptance threshold rejects."""
    vote_thresholds: tuple[float, ...] = ()
    """For ``majority``: one acceptance threshold per voter, set by :meth:`Ensemble.calibrate_votes`."""
    rejection_percentile: float = 0.8
    """For ``rejection``: the shift gamma puts this quantile of a burn-in's F(x) at acceptance probability 1/2."""
    rejection_burn_in: PositiveInt = 2000
    """For ``rejection``: generated samples that set the largest discriminator logit and gamma."""
    combination: str = "mean"
    """Anomaly score: ``mean`` (mean of standardised scores) or ``rank`` (mean of members' reference CDFs)."""
    member_scores: tuple[str, ...] = ()
    """Each member's anomaly score by name (``nll``, ``input_complexity``, ``reconstruction``...); empty: ``nll``."""
    member_binarized: tuple[bool, ...] = ()
    """Whether each member was trained on binarized pixels; such a member sees its inputs thresholded at
    1/2 (the likeliest binarization) when it votes or scores. Empty: every member sees inputs as given."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.member_types or len(self.member_types) != len(self.member_configs):
            raise ConfigError("an ensemble needs one or more members, each with its type and config")
        if self.weights and (len(self.weights) != len(self.member_types) or min(self.weights) < 0):
            raise ConfigError(f"weights must be {len(self.member_types)} non-negative numbers, got {self.weights}")
        if self.strategy not in STRATEGIES:
            raise ConfigError(f"strategy must be one of {', '.join(STRATEGIES)}, got {self.strategy!r}")
        if self.candidates < 1:
            raise ConfigError(f"candidates must be at least 1, got {self.candidates}")
        if self.aggregation not in AGGREGATIONS:
            raise ConfigError(f"aggregation must be one of {', '.join(AGGREGATIONS)}, got {self.aggregation!r}")
        if not 0 < self.vote_false_rejection < 1:
            raise ConfigError(f"vote_false_rejection must be in (0, 1), got {self.vote_false_rejection}")
        if self.voters not in VOTERS:
            raise ConfigError(f"voters must be one of {', '.join(VOTERS)}, got {self.voters!r}")
        if self.critic_hidden < 1:
            raise ConfigError(f"critic_hidden must be at least 1, got {self.critic_hidden}")
        if self.realism_neighbours < 1 or self.realism_rows < 0 or self.vote_strata < 0:
            raise ConfigError("realism_neighbours must be positive, realism_rows and vote_strata non-negative")
        if self.vote_thresholds and len(self.vote_thresholds) != self.num_voters:
            raise ConfigError(f"vote_thresholds must be one per voter ({self.num_voters}): {self.vote_thresholds}")
        if not 0 < self.rejection_percentile < 1 or self.rejection_burn_in < 1:
            raise ConfigError("rejection_percentile must be in (0, 1) and rejection_burn_in positive")
        if self.member_scores and len(self.member_scores) != len(self.member_types):
            raise ConfigError(f"member_scores must name one score per member ({len(self.member_types)}), "
                             f"got {self.member_scores}")  # fmt: skip
        if self.member_binarized and len(self.member_binarized) != len(self.member_types):
            raise ConfigError(f"member_binarized must say for each member ({len(self.member_types)}), "
                             f"got {self.member_binarized}")  # fmt: skip
        if self.combination not in COMBINATIONS:
            raise ConfigError(f"combination must be one of {', '.join(COMBINATIONS)}, got {self.combination!r}")

    @property
    def num_voters(self) -> int:
        members = len(self.member_types) if self.voters in ("members", "all") else 0
        return members + (self.voters != "members")

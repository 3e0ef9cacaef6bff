"""REINVENT: policy-gradient fine-tuning of a SMILES or SELFIES generator towards an objective.

Olivecrona et al. (2017), "Molecular de-novo design through deep reinforcement learning": the
generator (the policy) starts as a copy of a trained prior and is pulled towards the augmented
likelihood ``log p_prior(x) + sigma * score(x)`` by minimising its squared difference from
``log p_policy(x)``; the prior's likelihood keeps the policy writing the chemistry it learned.
The best molecules so far are replayed in every batch (experience replay). A diversity filter
(Blaschke et al., 2020, "Memory-assisted reinforcement learning for diverse molecular de novo
design") gives a molecule no reward once its Bemis-Murcko scaffold has already earned
``bucket_size`` rewarded molecules, so the policy has to keep finding new scaffolds.

The policy is any :class:`SequenceModel`: it is sampled with ``generate_tokens`` and scored with
``token_log_probs``, nothing else. Every molecule goes through the :class:`Oracle`, whose budget
ends the run.
"""

from __future__ import annotations

import copy
import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from rdkit.Chem.Scaffolds import MurckoScaffold

from genmodels.applications.molecules.generation import OptimizationResult, as_smiles, representation_of
from genmodels.applications.molecules.objectives import Oracle
from genmodels.applications.molecules.smiles import canonical, parse
from genmodels.errors import ConfigError
from genmodels.models.autoregressive.sequence import SequenceModel


@dataclass
class ReinventConfig:
    """Defaults as in the PMO benchmark's REINVENT (Gao et al., 2022): batch 64, sigma 500, 24 replayed."""

    steps: int = 1000
    """Most policy updates; the oracle budget usually ends the run first."""
    batch_size: int = 64
    sigma: float = 500.0
    """Weight of the score in the augmented likelihood; suits scores in [0, 1]."""
    learning_rate: float = 5e-4
    replay: int = 24
    """Molecules from the memory added to every batch."""
    memory_size: int = 100
    """Best distinct molecules kept for replay."""
    bucket_size: int = 25
    """Rewarded molecules per Murcko scaffold before the scaffold earns nothing more; 0 turns the filter off."""
    bucket_min_score: float = 0.4
    """Only molecules scoring at least this fill a scaffold's bucket."""
    max_length: int = 100
    """Most tokens per molecule; longer samples are invalid."""
    temperature: float = 1.0
    max_seconds: float | None = None
    """Also stop after this much wall-clock time."""
    patience: int | None = 5
    """Stop once this many updates in a row leave the best 100 scores unchanged (PMO's rule); None: never."""

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "max_length"):
            if getattr(self, name) < 1:
                raise ConfigError(f"REINVENT's {name} must be at least 1, got {getattr(self, name)}")
        if self.sigma < 0 or self.replay < 0 or self.memory_size < 0 or self.bucket_size < 0:
            raise ConfigError("REINVENT's sigma, replay, memory_size and bucket_size must be non-negative")


class ScaffoldFilter:
    """Blaschke et al. (2020)'s identical-Murcko-scaffold filter: a scaffold's reward stops once its bucket is full."""

    def __init__(self, bucket_size: int, min_score: float) -> None:
        self.bucket_size, self.min_score = bucket_size, min_score
        self.buckets: dict[str, set[str]] = {}

    def __call__(self, smiles: str, value: float) -> float:
        """The reward of a valid canonical molecule scoring ``value``: 0 when its scaffold's bucket is full."""
        if self.bucket_size == 0 or value < self.min_score:
            return value
        scaffold = MurckoScaffold.MurckoScaffoldSmiles(mol=parse(smiles))
        bucket = self.buckets.setdefault(scaffold, set())
        if smiles in bucket:
            return value
        if len(bucket) >= self.bucket_size:
            return 0.0
        bucket.add(smiles)
        return value


@dataclass
class _Batch:
    tokens: torch.Tensor
    """``(batch, length)`` ids, each row from the start token to its end token, padded with end tokens."""
    lengths: torch.Tensor
    """``(batch,)`` predicted tokens per row (the end token included)."""


def reinvent(
    policy: SequenceModel,
    oracle: Oracle,
    config: ReinventConfig | None = None,
    seed: int = 0,
    on_step: Callable[[dict[str, float]], None] | None = None,
) -> OptimizationResult:
    """Fine-tune ``policy`` in place towards high ``oracle`` scores until its budget or ``config.steps`` runs out."""
    config = config or ReinventConfig()
    if policy.tokenizer is None:
        raise ConfigError("REINVENT needs a generator trained on a molecule corpus (the model has no tokenizer)")
    if policy.context_limit is not None:
        config = dataclasses.replace(config, max_length=min(config.max_length, policy.context_limit))
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    generator = torch.Generator(device=policy.device).manual_seed(seed)
    prior = copy.deepcopy(policy).eval().requires_grad_(False)
    policy.eval()  # no dropout: the likelihood that is trained is the one sampled
    optimizer = torch.optim.Adam(policy.parameters(), lr=config.learning_rate)
    scaffold_filter = ScaffoldFilter(config.bucket_size, config.bucket_min_score)
    memory: dict[str, tuple[torch.Tensor, float]] = {}  # canonical SMILES -> (token row, reward)
    history = []
    started, best_scores, unchanged = time.perf_counter(), [], 0
    for step in range(config.steps):
        batch = _sample(policy, config, generator)
        smiles = _decode(policy, batch)
        values = oracle.score_all(smiles)
        rewards = [scaffold_filter(_canonical_of(text), value) if value is not None else 0.0
                   for text, value in zip(smiles, values, strict=True)]  # fmt: skip
        replayed = _replay(memory, config.replay, rng)
        _remember(memory, batch, smiles, values, rewards, config.memory_size)
        tokens, lengths = batch.tokens, batch.lengths
        reward_tensor = torch.tensor(rewards, dtype=torch.float32)
        if replayed:
            tokens, lengths = _stack([*_rows(batch), *(row for row, _ in replayed)], policy.start_token())
            reward_tensor = torch.cat([reward_tensor, torch.tensor([value for _, value in replayed])])
        loss = _reinvent_loss(policy, prior, tokens.to(policy.device), lengths, reward_tensor, config.sigma)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scored = [value for value in values if value is not None]
        row = {"step": step, "calls": oracle.calls, "validity": len(scored) / len(smiles),
               "mean_score": float(np.mean(scored)) if scored else float("nan"),
               "best_score": max(oracle.scores.values(), default=float("nan")), "loss": loss.item()}  # fmt: skip
        history.append(row)
        if on_step is not None:
            on_step(row)
        if oracle.exhausted or (config.max_seconds and time.perf_counter() - started > config.max_seconds):
            break
        previous, best_scores = best_scores, [value for _, value in oracle.best(100)]
        unchanged = unchanged + 1 if best_scores == previous else 0
        if config.patience is not None and unchanged >= config.patience:
            break
    summary = {"calls": oracle.calls, "failures": len(oracle.failures), "steps": len(history),
               "filled_scaffolds": sum(len(bucket) >= config.bucket_size for bucket in scaffold_filter.buckets.values())
               if config.bucket_size else 0}  # fmt: skip
    return OptimizationResult(oracle.best(config.memory_size), history, summary)


def _sample(policy: SequenceModel, config: ReinventConfig, generator: torch.Generator) -> _Batch:
    """``batch_size`` rows from the start token; a row ends at its first end token (the same line-break token)."""
    end = policy.start_token()
    context = torch.full((config.batch_size, 1), end, dtype=torch.long, device=policy.device)
    steps, ended = [], torch.zeros(config.batch_size, dtype=torch.bool, device=policy.device)
    with torch.no_grad():
        for tokens in policy.generate_tokens(context, config.max_length, config.temperature, generator=generator):
            steps.append(torch.where(ended, end, tokens))
            ended |= tokens == end
            if ended.all():
                break
    new = torch.stack(steps, dim=1).cpu()  # (batch, steps)
    is_end = new == end
    first_end = torch.where(is_end.any(1), is_end.int().argmax(1), new.shape[1] - 1)
    return _Batch(torch.cat([context.cpu(), new], dim=1), first_end + 1)


def _rows(batch: _Batch) -> list[torch.Tensor]:
    """Each row without its padding: start token, the molecule's tokens, end token."""
    return [row[: int(length) + 1] for row, length in zip(batch.tokens, batch.lengths, strict=True)]


def _stack(rows: list[torch.Tensor], pad: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows of different lengths as one ``(batch, longest)`` tensor padded with ``pad``, and their predicted lengths."""
    longest = max(len(row) for row in rows)
    tokens = torch.full((len(rows), longest), pad, dtype=torch.long)
    for index, row in enumerate(rows):
        tokens[index, : len(row)] = row
    return tokens, torch.tensor([len(row) - 1 for row in rows])


def _decode(policy: SequenceModel, batch: _Batch) -> list[str]:
    """The molecules of a batch as SMILES; a row that never ended is an empty (invalid) string."""
    end = policy.start_token()
    lines = []
    for row in _rows(batch):
        body = row[1:]
        lines.append(policy.tokenizer.decode(body[:-1].numpy()) if body[-1] == end else "")
    return as_smiles(lines, representation_of(policy))


def _canonical_of(smiles: str) -> str:
    return canonical(smiles) or ""


def _sequence_log_likelihood(model: SequenceModel, tokens: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """log p(row) of each row up to and with its end token: ``(batch,)``."""
    per_token = model.token_log_probs(tokens)  # (batch, length - 1)
    positions = torch.arange(per_token.shape[1], device=per_token.device)
    return (per_token * (positions[None, :] < lengths.to(per_token.device)[:, None])).sum(dim=1)


def _reinvent_loss(
    policy: SequenceModel,
    prior: SequenceModel,
    tokens: torch.Tensor,
    lengths: torch.Tensor,
    rewards: torch.Tensor,
    sigma: float,
) -> torch.Tensor:
    """Mean of ``(log p_prior + sigma * reward - log p_policy)^2`` (Olivecrona et al., 2017, eq. 3-4)."""
    with torch.no_grad():
        prior_likelihood = _sequence_log_likelihood(prior, tokens, lengths)
    policy_likelihood = _sequence_log_likelihood(policy, tokens, lengths)
    augmented = prior_likelihood + sigma * rewards.to(tokens.device)
    return (augmented - policy_likelihood).pow(2).mean()


def _replay(
    memory: dict[str, tuple[torch.Tensor, float]], count: int, rng: np.random.Generator
) -> list[tuple[torch.Tensor, float]]:
    """Up to ``count`` remembered (row, reward) pairs, drawn without replacement with weight proportional to reward."""
    if not memory or count == 0:
        return []
    entries = list(memory.values())
    weights = np.array([max(reward, 0.0) for _, reward in entries]) + 1e-6
    chosen = rng.choice(len(entries), size=min(count, len(entries)), replace=False, p=weights / weights.sum())
    return [entries[index] for index in chosen]


def _remember(
    memory: dict[str, tuple[torch.Tensor, float]],
    batch: _Batch,
    smiles: list[str],
    values: list[float | None],
    rewards: list[float],
    size: int,
) -> None:
    """Add the batch's valid molecules to ``memory`` and keep its ``size`` best rewards."""
    for row, text, value, reward in zip(_rows(batch), smiles, values, rewards, strict=True):
        key = _canonical_of(text) if value is not None else ""
        if key and key not in memory:
            memory[key] = (row, reward)
    for key in sorted(memory, key=lambda name: memory[name][1], reverse=True)[size:]:
        del memory[key]

"""Molecules from a sequence model trained on one SMILES (or SELFIES) per line, and fine-tuning towards a score.

Generation starts every sample at a line break and ends it at the next one, all samples of a
batch in one pass; rows that reach ``max_length`` without ending are returned empty (invalid).
Optimisation is hill-climbing (Brown et al., 2019, GuacaMol's "SMILES LSTM hill-climb"): sample,
keep the best-scoring valid molecules, fine-tune the model on them, repeat.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from genmodels.applications.molecules.smiles import canonicalize_all, from_selfies, to_selfies
from genmodels.applications.molecules.syntax import SmilesSyntaxMask
from genmodels.data.text import TextSplit
from genmodels.errors import ConfigError
from genmodels.models.autoregressive.sequence import SequenceModel
from genmodels.models.vae.smiles import SmilesVAE
from genmodels.training import Trainer, TrainerConfig


def sample_strings(
    model: SequenceModel | SmilesVAE,
    n: int,
    max_length: int = 120,
    temperature: float = 1.0,
    batch_size: int = 1000,
    seed: int = 0,
    syntax_mask: bool = False,
    generator: torch.Generator | None = None,
) -> list[str]:
    """``n`` generated lines (without the line break); unfinished ones come back as empty strings.

    A SMILES VAE decodes codes drawn from its prior; its window, not ``max_length``, bounds a line.
    ``syntax_mask`` samples a character model under :class:`SmilesSyntaxMask` (no line ends with a
    branch or ring bond open). A ``generator`` given replaces the one seeded with ``seed``.
    """
    if model.tokenizer is None:
        raise RuntimeError("the model has no tokenizer: train it on a molecule corpus first")
    decodes_whole_lines = hasattr(model, "rows_to_strings")  # a SMILES VAE, not a token-by-token model
    if syntax_mask and decodes_whole_lines:
        raise ConfigError("the syntax mask applies to sequence models; a SMILES VAE decodes whole codes")
    generator = generator or torch.Generator(device=model.device).manual_seed(seed)
    if decodes_whole_lines:
        batches = (model.sample(min(batch_size, n - start), generator, temperature=temperature)
                   for start in range(0, n, batch_size))  # fmt: skip
        return [line for rows in batches for line in model.rows_to_strings(rows)]
    line_break = model.start_token()
    lines: list[str] = []
    with model.evaluating(), torch.no_grad():
        for start in range(0, n, batch_size):
            size = min(batch_size, n - start)
            context = torch.full((size, 1), line_break, dtype=torch.long, device=model.device)
            steps, ended = [], torch.zeros(size, dtype=torch.bool, device=model.device)
            mask = SmilesSyntaxMask(model.tokenizer, size, model.device) if syntax_mask else None
            for tokens in model.generate_tokens(context, max_length, temperature, generator=generator, constraint=mask):
                steps.append(tokens)
                ended |= tokens == line_break
                if ended.all():
                    break
            rows = torch.stack(steps, dim=1).cpu().numpy()  # (size, steps)
            for row in rows:
                stop = np.flatnonzero(row == line_break)
                lines.append(model.tokenizer.decode(row[: stop[0]]) if len(stop) else "")
    return lines


def representation_of(model: SequenceModel | SmilesVAE) -> str:
    """``"selfies"`` for a model over SELFIES symbols (its tokenizer says so), else ``"smiles"``."""
    return "selfies" if getattr(model.tokenizer, "kind", None) == "selfies" else "smiles"


def as_smiles(lines: list[str], representation: str = "smiles") -> list[str]:
    """Generated lines as SMILES strings (SELFIES decoded); invalid ones stay in place as written."""
    if representation == "selfies":
        return [from_selfies(line) or line for line in lines]
    return lines


def in_representation(smiles: list[str], representation: str) -> list[str]:
    """Valid SMILES written as a model of ``representation`` reads them (the inverse of :func:`as_smiles`)."""
    return [to_selfies(molecule) for molecule in smiles] if representation == "selfies" else list(smiles)


def sample_smiles(model: SequenceModel | SmilesVAE, n: int, **sampling) -> list[str]:
    """``n`` generated molecules as SMILES, whichever representation the model writes (see :func:`sample_strings`)."""
    return as_smiles(sample_strings(model, n, **sampling), representation_of(model))


@dataclass
class OptimizationResult:
    top: list[tuple[str, float]]
    """The best distinct molecules found, with their scores, best first."""
    history: list[dict[str, float]] = field(default_factory=list)
    """Per round (or decoded step): validity, mean and best score of the molecules produced."""
    summary: dict[str, float] = field(default_factory=dict)
    """What the route measured besides, e.g. the latent predictor's held-out R^2."""


def hill_climb(
    model: SequenceModel,
    score: Callable[[str], float | None],
    rounds: int = 5,
    samples_per_round: int = 1000,
    keep: int = 100,
    steps_per_round: int = 100,
    learning_rate: float = 5e-4,
    seed: int = 0,
) -> OptimizationResult:
    """Fine-tune ``model`` in place towards high ``score``: each round trains on the best molecules so far."""
    best: dict[str, float] = {}
    history = []
    for round_number in range(rounds):
        canonical = canonicalize_all(sample_smiles(model, samples_per_round, seed=seed * 1000 + round_number), n_jobs=1)
        scored = {smiles: score(smiles) for smiles in canonical if smiles}
        scored = {smiles: value for smiles, value in scored.items() if value is not None}
        best.update(scored)
        values = list(scored.values())
        history.append({
            "round": round_number,
            "validity": sum(smiles is not None for smiles in canonical) / len(canonical),
            "mean_score": float(np.mean(values)) if values else float("nan"),
            "best_score": max(best.values()) if best else float("nan"),
        })  # fmt: skip
        elite = sorted(best, key=best.get, reverse=True)[:keep]
        if not elite:
            continue
        _fine_tune(model, elite, steps_per_round, learning_rate, seed + round_number)
    top = sorted(best.items(), key=lambda item: item[1], reverse=True)[:keep]
    return OptimizationResult(top, history)


def _fine_tune(model: SequenceModel, smiles: list[str], steps: int, learning_rate: float, seed: int) -> None:
    """A few steps of maximum likelihood on the given molecules, one per line, as in the training corpus."""
    text = "\n" + "\n".join(in_representation(smiles, representation_of(model))) + "\n"
    tokens = model.tokenizer.encode(text)
    window = min(model.config.data_shape[0], len(tokens) - 1)
    rows = TextSplit(tokens, len(text), window, sliding=True).tensors()
    config = TrainerConfig(
        max_steps=steps, batch_size=min(32, len(rows["x"])), learning_rate=learning_rate, seed=seed,
        monitor=None, progress_bar=False, tensorboard=False, checkpoint_every=steps,
    )  # fmt: skip
    with tempfile.TemporaryDirectory() as output:
        Trainer(config, Path(output)).fit(model, rows)
    model.eval()

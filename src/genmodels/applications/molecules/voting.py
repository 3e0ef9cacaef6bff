"""Voting among molecule generators: every member proposes, every voter ranks, the Borda count keeps the best.

Voters, each scoring every candidate (higher is better):

- ``validity``: RDKit parses it (1) or not (0);
- ``novelty``: valid and absent from the known molecules (only when known molecules are given);
- ``filters``: valid and passing the MOSES medicinal-chemistry filters (MCF, PAINS, atoms, charges, rings);
- one voter per member: its mean log-likelihood per token of the candidate's line, so long molecules
  are not penalised for their length (a SMILES VAE votes with its importance-weighted estimate).

Scores become ranks per voter (ties share their mean rank), ranks are summed (Borda count), and the
best distinct valid molecules are kept; when too few exist the best remaining candidates fill up.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from genmodels.applications.molecules.features import passes_filters
from genmodels.applications.molecules.generation import representation_of, sample_strings
from genmodels.applications.molecules.smiles import canonicalize_all, parse
from genmodels.ensembles.vote import borda_count
from genmodels.errors import ConfigError
from genmodels.models.autoregressive.sequence import TokenModel
from genmodels.models.vae.smiles import SmilesVAE


@dataclass
class VoteResult:
    smiles: list[str]
    """The kept molecules (canonical when valid), best first."""
    sources: list[int]
    """The member that proposed each kept molecule."""
    voters: list[str]
    proposed: int


def line_log_likelihood(model: TokenModel, lines: Sequence[str], batch_size: int = 500) -> np.ndarray:
    """Mean log-probability per token of each line, framed by line breaks; -inf where the model cannot score it."""
    if hasattr(model, "rows_to_strings"):  # a SMILES VAE: importance-weighted per line
        return _vae_line_log_likelihood(model, lines, batch_size)
    if not hasattr(model, "generate_tokens") or model.tokenizer is None:
        raise TypeError(f"{type(model).__name__} cannot score text lines")
    line_break = model.start_token()
    encoded = [model.tokenizer.encode(f"\n{line}\n") for line in lines]
    limit = (model.context_limit or 10**9) + 1
    values = np.full(len(lines), -np.inf)
    with model.evaluating(), torch.no_grad():
        for start in range(0, len(lines), batch_size):
            chunk = [(index, ids) for index, ids in enumerate(encoded[start : start + batch_size], start)
                     if len(ids) <= limit]  # fmt: skip
            if not chunk:
                continue
            width = max(len(ids) for _, ids in chunk)
            tokens = torch.full((len(chunk), width), line_break, dtype=torch.long)
            for row, (_, ids) in enumerate(chunk):
                tokens[row, : len(ids)] = torch.from_numpy(ids.astype(np.int64))
            counted = torch.arange(1, width)[None, :] < torch.tensor([len(ids) for _, ids in chunk])[:, None]
            log_probs = model.token_log_probs(tokens).cpu()
            means = (log_probs * counted).sum(1) / counted.sum(1)
            values[[index for index, _ in chunk]] = means.double().numpy()
    return values


def _vae_line_log_likelihood(model: SmilesVAE, lines: Sequence[str], batch_size: int) -> np.ndarray:
    window = model.config.data_shape[0]
    fits = [index for index, line in enumerate(lines) if line and len(model.tokenizer.encode(line)) <= window - 2]
    values = np.full(len(lines), -np.inf)
    for start in range(0, len(fits), batch_size):
        chunk = fits[start : start + batch_size]
        rows = model.strings_to_rows([lines[index] for index in chunk])
        values[chunk] = -model.score(rows).double().cpu().numpy()
    return values


def vote_molecules(
    members: Sequence[TokenModel],
    n: int,
    candidates: int = 4,
    known: set[str] | None = None,
    max_length: int = 120,
    seed: int = 0,
) -> VoteResult:
    """``n`` molecules chosen by Borda count from ``candidates * n`` proposals of every member."""
    if any(representation_of(member) != "smiles" for member in members):
        raise ConfigError("molecule voting scores SMILES lines by every member's likelihood: members must write SMILES")
    lines, sources = [], []
    for index, member in enumerate(members):
        proposed = sample_strings(member, n * candidates, max_length, seed=seed * 1000 + index)
        lines += proposed
        sources += [index] * len(proposed)
    canonical = canonicalize_all(lines, n_jobs=1)
    valid = np.array([smiles is not None for smiles in canonical], dtype=np.float64)
    votes = {"validity": valid}
    if known is not None:
        votes["novelty"] = np.array([smiles is not None and smiles not in known for smiles in canonical], np.float64)
    votes["filters"] = np.array([bool(smiles) and passes_filters(parse(smiles)) for smiles in canonical], np.float64)
    for index, member in enumerate(members):
        votes[f"likelihood:{index}"] = line_log_likelihood(member, lines)
    borda = borda_count(torch.from_numpy(np.stack(list(votes.values()))))
    order = torch.argsort(borda, descending=True, stable=True).tolist()
    kept, seen = [], set()
    for position in order:
        smiles = canonical[position]
        if smiles is not None and smiles not in seen:
            kept.append(position)
            seen.add(smiles)
        if len(kept) == n:
            break
    chosen = set(kept)
    kept += [position for position in order if position not in chosen][: n - len(kept)]
    return VoteResult(
        smiles=[canonical[position] or lines[position] for position in kept],
        sources=[sources[position] for position in kept],
        voters=list(votes),
        proposed=len(lines),
    )

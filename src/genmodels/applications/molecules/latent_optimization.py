"""Property-guided design in a SMILES VAE's latent space (Gomez-Bombarelli et al., 2018, section "Optimization").

Encode known molecules, fit a small network that predicts the objective from the code, then
climb its gradient from the codes of the best molecules, with a Gaussian-prior penalty that keeps
the codes where the decoder has seen data. Codes along the way are decoded greedily and every
decoded molecule is scored with RDKit itself: the predictor only proposes, the objective decides.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch
from sklearn.metrics import r2_score
from torch import nn

from genmodels.applications.molecules.generation import (
    OptimizationResult,
    as_smiles,
    in_representation,
    representation_of,
)
from genmodels.applications.molecules.smiles import canonicalize_all
from genmodels.errors import ConfigError
from genmodels.models.vae.smiles import SmilesVAE


def fit_property_predictor(
    codes: torch.Tensor, values: np.ndarray, steps: int = 2000, seed: int = 0
) -> tuple[nn.Module, float]:
    """A two-layer network from codes to standardised values, and its R^2 on a held-out fifth of them."""
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(codes), generator=generator)
    held_out, train = order[: len(codes) // 5], order[len(codes) // 5 :]
    targets = torch.as_tensor((values - values.mean()) / (values.std() + 1e-8), dtype=torch.float32)
    torch.manual_seed(seed)
    width = 128
    predictor = nn.Sequential(
        nn.Linear(codes.shape[1], width), nn.SiLU(), nn.Linear(width, width), nn.SiLU(), nn.Linear(width, 1)
    )
    optimizer = torch.optim.AdamW(predictor.parameters(), lr=1e-3, weight_decay=1e-2)
    for _ in range(steps):
        batch = train[torch.randint(len(train), (256,), generator=generator)]
        loss = (predictor(codes[batch]).squeeze(-1) - targets[batch]).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    predictor.eval()
    with torch.no_grad():
        predicted = predictor(codes[held_out]).squeeze(-1).numpy()
    return predictor, float(r2_score(targets[held_out].numpy(), predicted))


def optimize_latent(
    model: SmilesVAE,
    score: Callable[[str], float | None],
    known: Sequence[str],
    starts: int = 100,
    steps: int = 100,
    step_size: float = 0.05,
    prior_weight: float = 0.1,
    decode_every: int = 10,
    keep: int = 100,
    seed: int = 0,
) -> OptimizationResult:
    """The best distinct molecules decoded along gradient-ascent paths from the ``starts`` best known codes.

    ``history`` holds, per decoded step, the validity, novelty (against ``known``) and mean and
    best objective of the decoded molecules; its first row (step 0) decodes the starting codes.
    """
    known = [smiles for smiles in known if smiles]
    values = [score(smiles) for smiles in known]
    scored = [(smiles, value) for smiles, value in zip(known, values, strict=True) if value is not None]
    if len(scored) < 10:
        raise ConfigError(f"the objective scores {len(scored)} of the known molecules; at least 10 are needed")
    smiles, values = zip(*scored, strict=True)
    values = np.asarray(values, dtype=np.float64)
    lines = in_representation(list(smiles), representation_of(model))
    codes = torch.cat([model.encode_strings(lines[i : i + 1000]) for i in range(0, len(lines), 1000)]).cpu()
    predictor, r2 = fit_property_predictor(codes, values, seed=seed)
    for parameter in predictor.parameters():
        parameter.requires_grad_(False)
    best_known = np.argsort(-values)[:starts]
    z = codes[best_known].clone().requires_grad_(True)
    optimizer = torch.optim.Adam([z], lr=step_size)
    known_set, found = set(smiles), {}
    history = []
    for step in range(steps + 1):
        if step % decode_every == 0 or step == steps:
            history.append({"step": step, **_score_decoded(model, z.detach(), score, known_set, found)})
        if step == steps:
            break
        objective = predictor(z).squeeze(-1) - prior_weight * 0.5 * z.pow(2).sum(-1)
        optimizer.zero_grad()
        (-objective.sum()).backward()
        optimizer.step()
    top = sorted(found.items(), key=lambda item: item[1], reverse=True)[:keep]
    summary = {"predictor_r2": r2, "known_scored": len(values), "best_known": float(values.max()),
               "mean_known": float(values.mean())}  # fmt: skip
    return OptimizationResult(top, history, summary)


def _score_decoded(
    model: SmilesVAE,
    z: torch.Tensor,
    score: Callable[[str], float | None],
    known: set[str],
    found: dict[str, float],
) -> dict[str, float]:
    """Decode codes greedily, score the valid molecules, add the novel ones to ``found``; summary of this step."""
    decoded = as_smiles(model.decode_strings(z.to(model.device)), representation_of(model))
    canonical = canonicalize_all(decoded, n_jobs=1)
    valid = [smiles for smiles in canonical if smiles]
    scores = {smiles: score(smiles) for smiles in set(valid)}
    scores = {smiles: value for smiles, value in scores.items() if value is not None}
    found.update({smiles: value for smiles, value in scores.items() if smiles not in known})
    novel = [smiles for smiles in set(valid) if smiles not in known]
    return {
        "validity": len(valid) / len(canonical),
        "novelty": len(novel) / len(set(valid)) if valid else float("nan"),
        "mean_score": float(np.mean(list(scores.values()))) if scores else float("nan"),
        "best_score": max(scores.values(), default=float("nan")),
    }

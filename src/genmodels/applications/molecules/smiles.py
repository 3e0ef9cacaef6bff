"""SMILES through RDKit: parsing, canonical forms, randomised SMILES and SELFIES, in parallel where it pays."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from multiprocessing import get_context
from typing import TypeVar

import numpy as np
import selfies
from rdkit import Chem, RDLogger

from genmodels.errors import ConfigError
from genmodels.io.progress import PhaseProgress

RDLogger.DisableLog("rdApp.*")  # invalid SMILES are counted and reported, not printed one by one

T = TypeVar("T")
PARALLEL_FROM = 5000
"""Below this many items a process pool costs more than it saves."""
PROGRESS_CHUNK = 1000
"""Items a worker takes at a time: few enough that the progress moves, many enough that the pool does not."""


def parallel_map(
    function: Callable[[str], T], items: Sequence[str], n_jobs: int = 2, description: str | None = None
) -> list[T]:
    """``function`` over ``items``, in ``n_jobs`` processes for long lists (RDKit releases no GIL).

    With a ``description``, long lists show their progress (:class:`~genmodels.io.progress.PhaseProgress`).
    """
    if len(items) < PARALLEL_FROM:
        return [function(item) for item in items]
    chunk = min(PROGRESS_CHUNK, max(1, len(items) // (8 * max(n_jobs, 1))))
    with PhaseProgress(description or "", len(items), "molecules", enabled=description is not None) as progress:
        if n_jobs <= 1:
            results = []
            for start in range(0, len(items), chunk):
                results += [function(item) for item in items[start : start + chunk]]
                progress.advance(len(items[start : start + chunk]))
            return results
        with get_context("spawn").Pool(n_jobs) as pool:
            results = []
            for result in pool.imap(function, items, chunksize=chunk):
                results.append(result)
                if len(results) % chunk == 0 or len(results) == len(items):
                    progress.update(len(results))
            return results


def parse(smiles: str) -> Chem.Mol | None:
    """An RDKit molecule, or None for anything that is not a valid SMILES string."""
    if not isinstance(smiles, str) or not smiles.strip():
        return None
    return Chem.MolFromSmiles(smiles.strip())


def canonical(smiles: str) -> str | None:
    """RDKit's canonical SMILES (isomeric), or None when invalid."""
    molecule = parse(smiles)
    return Chem.MolToSmiles(molecule) if molecule is not None else None


def canonicalize_all(smiles: Iterable[str], n_jobs: int = 2, description: str | None = None) -> list[str | None]:
    return parallel_map(canonical, list(smiles), n_jobs, description)


def randomize_smiles(smiles: str, rng: np.random.Generator) -> str:
    """One of the molecule's many valid SMILES strings, drawn with ``rng`` (augmentation, Bjerrum 2017)."""
    molecule = parse(smiles)
    if molecule is None:
        raise ConfigError(f"not a valid SMILES string: {smiles!r}")
    seed = int(rng.integers(0, 2**31 - 1))
    return Chem.MolToRandomSmilesVect(molecule, 1, randomSeed=seed)[0]


def to_selfies(smiles: str) -> str:
    """SELFIES (Krenn et al., 2020): every string decodes to a valid molecule."""
    if parse(smiles) is None:
        raise ConfigError(f"not a valid SMILES string: {smiles!r}")
    return selfies.encoder(smiles)


def from_selfies(text: str) -> str | None:
    """The canonical SMILES a SELFIES string decodes to, or None if it cannot be decoded."""
    try:
        return canonical(selfies.decoder(text))
    except selfies.DecoderError:
        return None

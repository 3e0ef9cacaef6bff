"""SMILES through RDKit: parsing, canonical forms, randomised SMILES and SELFIES, in parallel where it pays."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from multiprocessing import get_context
from typing import TypeVar

import numpy as np
import selfies
from rdkit import Chem, RDLogger

from genmodels.errors import ConfigError

RDLogger.DisableLog("rdApp.*")  # invalid SMILES are counted and reported, not printed one by one

T = TypeVar("T")
PARALLEL_FROM = 5000
"""Below this many items a process pool costs more than it saves."""


def parallel_map(function: Callable[[str], T], items: Sequence[str], n_jobs: int = 2) -> list[T]:
    """``function`` over ``items``, in ``n_jobs`` processes for long lists (RDKit releases no GIL)."""
    if n_jobs <= 1 or len(items) < PARALLEL_FROM:
        return [function(item) for item in items]
    with get_context("spawn").Pool(n_jobs) as pool:
        return pool.map(function, items, chunksize=max(1, len(items) // (8 * n_jobs)))


def parse(smiles: str) -> Chem.Mol | None:
    """An RDKit molecule, or None for anything that is not a valid SMILES string."""
    if not isinstance(smiles, str) or not smiles.strip():
        return None
    return Chem.MolFromSmiles(smiles.strip())


def canonical(smiles: str) -> str | None:
    """RDKit's canonical SMILES (isomeric), or None when invalid."""
    molecule = parse(smiles)
    return Chem.MolToSmiles(molecule) if molecule is not None else None


def canonicalize_all(smiles: Iterable[str], n_jobs: int = 2) -> list[str | None]:
    return parallel_map(canonical, list(smiles), n_jobs)


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

"""What the MOSES metrics need of each molecule, computed in one pass: fingerprint, fragments, scaffold, filters,
properties; and the ChemNet activations of a set (Preuer et al., 2018) for the Frechet ChemNet distance."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache, partial
from importlib import resources

import numpy as np
import pandas as pd
from rdkit import Chem
from rdkit.Chem import AllChem, FilterCatalog, rdFingerprintGenerator
from rdkit.Chem.Scaffolds import MurckoScaffold

from genmodels.applications.molecules.properties import PROPERTY_FUNCTIONS
from genmodels.applications.molecules.smiles import parallel_map, parse
from genmodels.io.progress import PhaseProgress

FINGERPRINT_BITS = 1024
"""Morgan fingerprints of radius 2 folded to 1,024 bits, as MOSES uses for SNN and IntDiv."""
ALLOWED_ATOMS = {"C", "N", "S", "O", "F", "Cl", "Br", "H"}
FILTER_FILES = resources.files("genmodels.applications.molecules") / "files"
CHEMNET_CHUNK = 2500
"""Molecules per ChemNet call: fcd-torch holds every one-hot input of a call in memory at once."""


@lru_cache(maxsize=1)
def _filter_catalog() -> FilterCatalog.FilterCatalog:
    """The MCF and PAINS patterns MOSES filters with, in one RDKit catalog (matched in C++, not a Python loop)."""
    with (FILTER_FILES / "mcf.csv").open("r") as mcf, (FILTER_FILES / "wehi_pains.csv").open("r") as pains:
        smarts = [*pd.read_csv(mcf)["smarts"], *pd.read_csv(pains, names=["smarts", "names"])["smarts"]]
    catalog = FilterCatalog.FilterCatalog()
    for index, pattern in enumerate(smarts):
        matcher = FilterCatalog.SmartsMatcher(Chem.MolFromSmarts(pattern))
        catalog.AddEntry(FilterCatalog.FilterCatalogEntry(str(index), matcher))
    return catalog


def passes_filters(molecule: Chem.Mol) -> bool:
    if any(len(ring) >= 8 for ring in molecule.GetRingInfo().AtomRings()):
        return False
    if any(atom.GetFormalCharge() != 0 or atom.GetSymbol() not in ALLOWED_ATOMS for atom in molecule.GetAtoms()):
        return False
    return not _filter_catalog().HasMatch(Chem.AddHs(molecule))


@dataclass
class MoleculeFeatures:
    """What the metrics need of one valid molecule, computed in one pass (in a worker process)."""

    fingerprint: np.ndarray
    """Packed bits, (FINGERPRINT_BITS / 8,) uint8."""
    fragments: list[str]
    scaffold: str | None
    passes_filters: bool | None
    properties: dict[str, float]


def molecule_features(smiles: str, with_filters: bool = True) -> MoleculeFeatures:
    molecule = parse(smiles)
    generator = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=FINGERPRINT_BITS)
    fragments = Chem.MolToSmiles(AllChem.FragmentOnBRICSBonds(molecule)).split(".")
    return MoleculeFeatures(
        fingerprint=np.packbits(generator.GetFingerprintAsNumPy(molecule).astype(bool)),
        fragments=fragments,
        scaffold=_scaffold(molecule),
        passes_filters=passes_filters(molecule) if with_filters else None,
        properties={name: float(function(molecule)) for name, function in PROPERTY_FUNCTIONS.items()},
    )


def _scaffold(molecule: Chem.Mol, min_rings: int = 2) -> str | None:
    try:
        scaffold = MurckoScaffold.GetScaffoldForMol(molecule)
    except (ValueError, RuntimeError):
        return None
    smiles = Chem.MolToSmiles(scaffold)
    return smiles if smiles and scaffold.GetRingInfo().NumRings() >= min_rings else None


def features_of(
    smiles: list[str], n_jobs: int = 2, with_filters: bool = True, description: str | None = None
) -> list[MoleculeFeatures]:
    return parallel_map(partial(molecule_features, with_filters=with_filters), smiles, n_jobs, description)


def chemnet_statistics(
    smiles: list[str], chunk: int = CHEMNET_CHUNK, description: str = "ChemNet"
) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of ChemNet's activations, computed in chunks in this process.

    fcd-torch's own call, with data-loader workers, grew by about 0.2 GB per 1,000 molecules here
    (the full MOSES test set ran out of 24 GB); chunks without workers stay near 1 GB, and are faster.
    """
    from fcd_torch import FCD

    network = FCD(device="cpu", n_jobs=1, batch_size=512)
    parts = []
    with PhaseProgress(description, len(smiles), "molecules", enabled=len(smiles) > chunk) as progress:
        for start in range(0, len(smiles), chunk):
            parts.append(network.get_predictions(smiles[start : start + chunk]))
            progress.advance(len(parts[-1]))
    activations = np.concatenate(parts)
    return activations.mean(0), np.cov(activations.T)

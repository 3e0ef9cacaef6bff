"""Molecular properties that design targets and reports show: QED, Crippen logP, synthetic accessibility, weight."""

from __future__ import annotations

from collections.abc import Callable

from rdkit import Chem
from rdkit.Chem import QED, Crippen, Descriptors
from rdkit.Contrib.SA_Score import sascorer

from genmodels.applications.molecules.smiles import parse

PROPERTY_FUNCTIONS: dict[str, Callable[[Chem.Mol], float]] = {
    "qed": QED.qed,  # drug-likeness in [0, 1] (Bickerton et al., 2012)
    "logp": Crippen.MolLogP,  # octanol-water partition coefficient (Wildman & Crippen, 1999)
    "sa": sascorer.calculateScore,  # synthetic accessibility, 1 (easy) to 10 (hard) (Ertl & Schuffenhauer, 2009)
    "weight": Descriptors.MolWt,  # molecular weight in g/mol
}


def molecule_properties(smiles: str) -> dict[str, float] | None:
    """Every property of one molecule, or None when the SMILES is invalid."""
    molecule = parse(smiles)
    if molecule is None:
        return None
    return {name: float(function(molecule)) for name, function in PROPERTY_FUNCTIONS.items()}

"""Molecular properties that design targets: QED, Crippen logP, synthetic accessibility, weight, or your own."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from rdkit import Chem
from rdkit.Chem import QED, Crippen, Descriptors
from rdkit.Contrib.SA_Score import sascorer

from genmodels.applications.molecules.smiles import parse
from genmodels.errors import ConfigError

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


def objective(spec: str) -> Callable[[str], float | None]:
    """A scoring function of SMILES (None for invalid ones): a property name, or ``module:function``.

    A user function takes an RDKit molecule and returns a float; higher is better, so to lower a
    property (e.g. SA) write a function that returns its negative.
    """
    if spec in PROPERTY_FUNCTIONS:
        function = PROPERTY_FUNCTIONS[spec]
    elif ":" in spec:
        module_name, _, attribute = spec.partition(":")
        try:
            function = getattr(importlib.import_module(module_name), attribute)
        except (ImportError, AttributeError) as error:
            raise ConfigError(f"cannot import the objective {spec!r}: {error}") from None
    else:
        raise ConfigError(
            f"objective must be one of {', '.join(PROPERTY_FUNCTIONS)} or 'module:function', got {spec!r}"
        )

    def score(smiles: str) -> float | None:
        molecule = parse(smiles)
        return float(function(molecule)) if molecule is not None else None

    return score

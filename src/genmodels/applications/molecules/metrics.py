"""The MOSES metrics (Polykovskiy et al., 2020), computed with RDKit and fcd-torch, defined as MOSES defines them.

- validity: fraction of strings RDKit parses; the rest use the valid ones, canonicalised.
- unique@k: fraction of distinct molecules among the first k valid ones.
- novelty: fraction of the distinct valid molecules absent from the training set.
- IntDiv_p: 1 - mean over generated x of (mean over generated y of T(x, y)^p)^(1/p), T the Tanimoto
  similarity of Morgan fingerprints (radius 2, 1,024 bits); identical molecules give 0.
- filters: fraction passing the MCF and PAINS substructure filters, with only C, N, S, O, F, Cl,
  Br, H atoms, no charge and no ring of 8 or more atoms.
- against a reference set R (test, test_scaffolds): FCD (Frechet ChemNet distance, Preuer et al.,
  2018), SNN (mean over generated of the largest Tanimoto to R), Frag and Scaf (cosine similarity of
  BRICS-fragment and Bemis-Murcko-scaffold counts; scaffolds with at least two rings).
- property distances: Wasserstein-1 distance of logP, SA, QED and weight to the test set.

A metric that cannot be computed is None (n/a), never a number that only looks like one:
unique@k with fewer than k valid molecules, and every comparison with a reference set (the slow
part) with fewer than :data:`MIN_VALID_FOR_REFERENCE` valid molecules (FCD needs a covariance).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import lru_cache, partial
from importlib import resources

import numpy as np
import pandas as pd
import torch
from rdkit import Chem
from rdkit.Chem import AllChem, rdFingerprintGenerator
from rdkit.Chem.Scaffolds import MurckoScaffold
from scipy.stats import wasserstein_distance

from genmodels.applications.molecules.properties import PROPERTY_FUNCTIONS
from genmodels.applications.molecules.smiles import canonicalize_all, parallel_map, parse
from genmodels.errors import ConfigError

FINGERPRINT_BITS = 1024
MOSES_PROPERTY_NAMES = {"logp": "logP", "sa": "SA", "qed": "QED", "weight": "weight"}
ALLOWED_ATOMS = {"C", "N", "S", "O", "F", "Cl", "Br", "H"}
FILTER_FILES = resources.files("genmodels.applications.molecules") / "files"


@lru_cache(maxsize=1)
def _filters() -> list[Chem.Mol]:
    with (FILTER_FILES / "mcf.csv").open("r") as mcf, (FILTER_FILES / "wehi_pains.csv").open("r") as pains:
        smarts = [*pd.read_csv(mcf)["smarts"], *pd.read_csv(pains, names=["smarts", "names"])["smarts"]]
    return [Chem.MolFromSmarts(pattern) for pattern in smarts]


def passes_filters(molecule: Chem.Mol) -> bool:
    if any(len(ring) >= 8 for ring in molecule.GetRingInfo().AtomRings()):
        return False
    if any(atom.GetFormalCharge() != 0 or atom.GetSymbol() not in ALLOWED_ATOMS for atom in molecule.GetAtoms()):
        return False
    with_hydrogens = Chem.AddHs(molecule)
    return not any(with_hydrogens.HasSubstructMatch(pattern) for pattern in _filters())


@dataclass
class MoleculeFeatures:
    """What the metrics need of one valid molecule, computed in one pass (in a worker process)."""

    fingerprint: np.ndarray
    fragments: list[str]
    scaffold: str | None
    passes_filters: bool | None
    properties: dict[str, float]


def molecule_features(smiles: str, with_filters: bool = True) -> MoleculeFeatures:
    molecule = parse(smiles)
    generator = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=FINGERPRINT_BITS)
    fragments = Chem.MolToSmiles(AllChem.FragmentOnBRICSBonds(molecule)).split(".")
    return MoleculeFeatures(
        fingerprint=generator.GetFingerprintAsNumPy(molecule).astype(bool),
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


def tanimoto_aggregate(reference: np.ndarray, generated: np.ndarray, agg: str, p: int = 1, batch: int = 4096) -> float:
    """Mean over generated of the max (or the power mean) of Tanimoto similarities to the reference rows."""
    aggregated = np.zeros(len(generated)) if agg == "max" else np.zeros(len(generated), np.float64)
    for start in range(0, len(reference), batch):
        ref = torch.from_numpy(reference[start : start + batch]).float()
        for offset in range(0, len(generated), batch):
            gen = torch.from_numpy(generated[offset : offset + batch]).float()
            shared = ref @ gen.T  # (ref, gen) bits in common
            similarity = shared / (ref.sum(1, keepdim=True) + gen.sum(1)[None, :] - shared)
            similarity = torch.nan_to_num(similarity, nan=1.0).double().numpy()  # two empty fingerprints: identical
            rows = slice(offset, offset + len(gen))
            if agg == "max":
                aggregated[rows] = np.maximum(aggregated[rows], similarity.max(0))
            else:
                aggregated[rows] += (similarity**p).sum(0)
    if agg == "mean":
        aggregated = (aggregated / len(reference)) ** (1 / p)
    return float(aggregated.mean())


def cosine_similarity(reference: Counter, generated: Counter) -> float:
    if not reference or not generated:
        return float("nan")
    keys = sorted(reference.keys() | generated.keys())
    a = np.array([reference.get(key, 0) for key in keys], np.float64)
    b = np.array([generated.get(key, 0) for key in keys], np.float64)
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


def features_of(smiles: list[str], n_jobs: int = 2, with_filters: bool = True) -> list[MoleculeFeatures]:
    return parallel_map(partial(molecule_features, with_filters=with_filters), smiles, n_jobs)


def reference_statistics(smiles: list[str], n_jobs: int = 2) -> dict:
    features = features_of(smiles, n_jobs, with_filters=False)
    return {
        "smiles": smiles,
        "fingerprints": np.stack([feature.fingerprint for feature in features]),
        "fragments": Counter(fragment for feature in features for fragment in feature.fragments),
        "scaffolds": Counter(feature.scaffold for feature in features if feature.scaffold),
        "properties": {name: np.array([f.properties[name] for f in features]) for name in PROPERTY_FUNCTIONS},
    }


def chemnet_statistics(smiles: list[str], chunk: int = 2500) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of ChemNet's activations, computed in chunks in this process.

    fcd-torch's own call, with data-loader workers, grew by about 0.2 GB per 1,000 molecules here
    (the full MOSES test set ran out of 24 GB); chunks without workers stay near 1 GB, and are faster.
    """
    from fcd_torch import FCD

    network = FCD(device="cpu", n_jobs=1, batch_size=512)
    parts = [network.get_predictions(smiles[start : start + chunk]) for start in range(0, len(smiles), chunk)]
    activations = np.concatenate(parts)
    return activations.mean(0), np.cov(activations.T)


def frechet_chemnet_distance(
    generated: list[str] | tuple[np.ndarray, np.ndarray], reference: list[str] | tuple[np.ndarray, np.ndarray]
) -> float:
    """FCD between two sets of SMILES, either given as :func:`chemnet_statistics` to compute them once."""
    from fcd_torch.utils import calculate_frechet_distance

    def statistics(given: list[str] | tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        return given if isinstance(given, tuple) else chemnet_statistics(given)

    return float(calculate_frechet_distance(*statistics(reference), *statistics(generated)))


MIN_VALID_FOR_REFERENCE = 2
"""Valid molecules below which the reference-set metrics (FCD, SNN, Frag, Scaf, properties) are n/a."""


def moses_metrics(
    generated: list[str],
    train: list[str] | None = None,
    test: list[str] | None = None,
    test_scaffolds: list[str] | None = None,
    n_jobs: int = 2,
    unique_at: tuple[int, ...] = (1000, 10000),
    fcd: bool = True,
) -> dict[str, float | None]:
    """The MOSES table for ``generated`` SMILES; reference sets are canonicalised here; None where n/a."""
    if not generated:
        raise ConfigError("no generated SMILES to evaluate")
    canonical = canonicalize_all(generated, n_jobs)
    valid = [smiles for smiles in canonical if smiles is not None]
    metrics: dict[str, float | None] = {"valid": len(valid) / len(generated), "count": len(generated)}
    for k in unique_at:
        metrics[f"unique@{k}"] = len(set(valid[:k])) / k if len(valid) >= k else None
    if not valid:
        return metrics
    features = features_of(valid, n_jobs)
    fingerprints = np.stack([feature.fingerprint for feature in features])
    metrics["IntDiv"] = 1 - tanimoto_aggregate(fingerprints, fingerprints, "mean", p=1)
    metrics["IntDiv2"] = 1 - tanimoto_aggregate(fingerprints, fingerprints, "mean", p=2)
    metrics["Filters"] = float(np.mean([feature.passes_filters for feature in features]))
    if train is not None:
        train_set = {smiles for smiles in canonicalize_all(train, n_jobs) if smiles}
        distinct = set(valid)
        metrics["Novelty"] = len(distinct - train_set) / len(distinct)
    if len(valid) < MIN_VALID_FOR_REFERENCE:
        names = [name for name, reference in (("Test", test), ("TestSF", test_scaffolds)) if reference is not None]
        for name in names:
            metrics.update({f"{metric}/{name}": None for metric in ("FCD", "SNN", "Frag", "Scaf")})
        if test is not None:
            metrics.update({MOSES_PROPERTY_NAMES[prop]: None for prop in PROPERTY_FUNCTIONS})
        return metrics
    fragments = Counter(fragment for feature in features for fragment in feature.fragments)
    scaffolds = Counter(feature.scaffold for feature in features if feature.scaffold)
    generated_chemnet = chemnet_statistics(valid) if fcd and (test or test_scaffolds) else None
    for name, reference in (("Test", test), ("TestSF", test_scaffolds)):
        if reference is None:
            continue
        reference = [smiles for smiles in canonicalize_all(reference, n_jobs) if smiles]
        statistics = reference_statistics(reference, n_jobs)
        if generated_chemnet is not None:
            metrics[f"FCD/{name}"] = frechet_chemnet_distance(generated_chemnet, reference)
        metrics[f"SNN/{name}"] = tanimoto_aggregate(statistics["fingerprints"], fingerprints, "max")
        metrics[f"Frag/{name}"] = cosine_similarity(statistics["fragments"], fragments)
        metrics[f"Scaf/{name}"] = cosine_similarity(statistics["scaffolds"], scaffolds)
        if name == "Test":
            for prop, values in statistics["properties"].items():
                generated_values = [feature.properties[prop] for feature in features]
                metrics[MOSES_PROPERTY_NAMES[prop]] = float(wasserstein_distance(values, generated_values))
    return metrics

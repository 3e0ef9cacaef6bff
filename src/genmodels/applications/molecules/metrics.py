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

Reference sets are given as SMILES lists (computed here) or as cached
:class:`~genmodels.applications.molecules.reference_statistics.ReferenceStatistics`; SNN and IntDiv
are exact blocked int8 products (:mod:`~genmodels.applications.molecules.similarity`).

A metric that cannot be computed is None (n/a), never a number that only looks like one:
unique@k with fewer than k valid molecules, and every comparison with a reference set (the slow
part) with fewer than :data:`MIN_VALID_FOR_REFERENCE` valid molecules (FCD needs a covariance).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np
from scipy.stats import wasserstein_distance

from genmodels.applications.molecules.features import chemnet_statistics, features_of
from genmodels.applications.molecules.properties import PROPERTY_FUNCTIONS
from genmodels.applications.molecules.reference_statistics import ReferenceStatistics, compute_reference_statistics
from genmodels.applications.molecules.similarity import internal_diversities, nearest_neighbour_similarity
from genmodels.applications.molecules.smiles import canonicalize_all
from genmodels.errors import ConfigError

MOSES_PROPERTY_NAMES = {"logp": "logP", "sa": "SA", "qed": "QED", "weight": "weight"}
MIN_VALID_FOR_REFERENCE = 2
"""Valid molecules below which the reference-set metrics (FCD, SNN, Frag, Scaf, properties) are n/a."""


def cosine_similarity(reference: Counter, generated: Counter) -> float:
    """Cosine of two count vectors in float64 (int64 sums of squares overflow on the full MOSES sets)."""
    if not reference or not generated:
        return float("nan")
    keys = sorted(reference.keys() | generated.keys())
    a = np.array([reference.get(key, 0) for key in keys], np.float64)
    b = np.array([generated.get(key, 0) for key in keys], np.float64)
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


def frechet_chemnet_distance(
    generated: list[str] | tuple[np.ndarray, np.ndarray], reference: list[str] | tuple[np.ndarray, np.ndarray]
) -> float:
    """FCD between two sets of SMILES, either given as :func:`chemnet_statistics` to compute them once."""
    from fcd_torch.utils import calculate_frechet_distance

    def statistics(given: list[str] | tuple[np.ndarray, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        return given if isinstance(given, tuple) else chemnet_statistics(given)

    return float(calculate_frechet_distance(*statistics(reference), *statistics(generated)))


@dataclass
class MosesEvaluation:
    """The MOSES table and the properties of the valid generated molecules (for plots, computed once)."""

    metrics: dict[str, float | None]
    generated_properties: dict[str, np.ndarray] = field(default_factory=dict)


Reference = list[str] | ReferenceStatistics | None


def _as_statistics(
    reference: Reference, n_jobs: int, full: bool, chemnet: bool, name: str
) -> ReferenceStatistics | None:
    """Cached statistics as they are; a SMILES list canonicalised once and computed here."""
    if reference is None or isinstance(reference, ReferenceStatistics):
        return reference
    canonical = [smiles for smiles in canonicalize_all(reference, n_jobs) if smiles]
    return compute_reference_statistics(canonical, n_jobs, full=full, chemnet=chemnet, name=name)


def moses_metrics(
    generated: list[str],
    train: Reference = None,
    test: Reference = None,
    test_scaffolds: Reference = None,
    n_jobs: int = 2,
    unique_at: tuple[int, ...] = (1000, 10000),
    fcd: bool = True,
) -> dict[str, float | None]:
    """The MOSES table for ``generated`` SMILES; None where n/a (see :func:`evaluate_moses`)."""
    return evaluate_moses(generated, train, test, test_scaffolds, n_jobs, unique_at, fcd).metrics


def evaluate_moses(
    generated: list[str],
    train: Reference = None,
    test: Reference = None,
    test_scaffolds: Reference = None,
    n_jobs: int = 2,
    unique_at: tuple[int, ...] = (1000, 10000),
    fcd: bool = True,
) -> MosesEvaluation:
    """The MOSES table for ``generated`` SMILES against references given as lists or cached statistics."""
    if not generated:
        raise ConfigError("no generated SMILES to evaluate")
    canonical = canonicalize_all(generated, n_jobs, description="generated: canonical SMILES")
    valid = [smiles for smiles in canonical if smiles is not None]
    metrics: dict[str, float | None] = {"valid": len(valid) / len(generated), "count": len(generated)}
    for k in unique_at:
        metrics[f"unique@{k}"] = len(set(valid[:k])) / k if len(valid) >= k else None
    if not valid:
        return MosesEvaluation(metrics)
    features = features_of(valid, n_jobs, description="generated: features")
    fingerprints = np.stack([feature.fingerprint for feature in features])
    metrics["IntDiv"], metrics["IntDiv2"] = internal_diversities(fingerprints, (1, 2))
    metrics["Filters"] = float(np.mean([feature.passes_filters for feature in features]))
    properties = {name: np.array([feature.properties[name] for feature in features]) for name in PROPERTY_FUNCTIONS}
    train = _as_statistics(train, n_jobs, full=False, chemnet=False, name="train")
    if train is not None:
        distinct = set(valid)
        metrics["Novelty"] = len(distinct - set(train.canonical)) / len(distinct)
    references = {"Test": test, "TestSF": test_scaffolds}
    if len(valid) < MIN_VALID_FOR_REFERENCE:
        for name in (name for name, reference in references.items() if reference is not None):
            metrics.update({f"{metric}/{name}": None for metric in ("FCD", "SNN", "Frag", "Scaf")})
        if test is not None:
            metrics.update({MOSES_PROPERTY_NAMES[prop]: None for prop in PROPERTY_FUNCTIONS})
        return MosesEvaluation(metrics, properties)
    fragments = Counter(fragment for feature in features for fragment in feature.fragments)
    scaffolds = Counter(feature.scaffold for feature in features if feature.scaffold)
    generated_chemnet = None
    if fcd and any(reference is not None for reference in references.values()):
        generated_chemnet = chemnet_statistics(valid, description="generated: ChemNet")
    for name, reference in references.items():
        statistics = _as_statistics(reference, n_jobs, full=True, chemnet=fcd, name=name)
        if statistics is None:
            continue
        if generated_chemnet is not None:
            reference_chemnet = statistics.chemnet or chemnet_statistics(statistics.canonical, description=name)
            metrics[f"FCD/{name}"] = frechet_chemnet_distance(generated_chemnet, reference_chemnet)
        metrics[f"SNN/{name}"] = nearest_neighbour_similarity(
            statistics.fingerprints, fingerprints, description=f"SNN/{name}"
        )
        metrics[f"Frag/{name}"] = cosine_similarity(statistics.fragments, fragments)
        metrics[f"Scaf/{name}"] = cosine_similarity(statistics.scaffolds, scaffolds)
        if name == "Test":
            for prop, values in statistics.properties.items():
                metrics[MOSES_PROPERTY_NAMES[prop]] = float(wasserstein_distance(values, properties[prop]))
    return MosesEvaluation(metrics, properties)

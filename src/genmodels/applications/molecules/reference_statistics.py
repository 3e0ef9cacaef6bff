"""Everything the MOSES metrics need of a reference set, computed once and cached on disk.

A reference set (MOSES test, scaffold test, any SMILES file) costs most of an evaluation: ChemNet
activations, fingerprints, fragments, scaffolds and properties of every molecule. They depend only on
the file and on the libraries that compute them, so they are stored under
``$GENMODELS_CACHE_DIR`` (default ``$XDG_CACHE_HOME/genmodels``, else ``~/.cache/genmodels``) in a
folder named by the SHA-256 of the file's bytes, the column read, the RDKit and fcd-torch versions
and :data:`FORMAT_VERSION`. Arrays are an ``.npz`` read without pickle, counts are JSON; every file
is written atomically and a manifest with their hashes is written last, so a folder that is
incomplete, altered or from other library versions is rebuilt (with a warning), never trusted.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import warnings
from collections import Counter
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path

import numpy as np

from genmodels.applications.molecules.datasets import MOSES_SPLITS, load_smiles, shipped_moses_bytes
from genmodels.applications.molecules.features import chemnet_statistics, features_of
from genmodels.applications.molecules.properties import PROPERTY_FUNCTIONS
from genmodels.errors import DataError
from genmodels.io.files import atomic_path, sha256_file, write_text_atomic

FORMAT_VERSION = 1
"""Bumped whenever what is stored or how it is computed changes; older folders are then rebuilt."""
CACHE_VARIABLE = "GENMODELS_CACHE_DIR"
MANIFEST = "manifest.json"
FILES = ("canonical.smi.gz", "arrays.npz", "counts.json")


@dataclass
class ReferenceStatistics:
    """A reference set as the metrics see it; ``full=False`` holds only the canonical SMILES (novelty)."""

    canonical: list[str]
    """Canonical SMILES of the valid rows, in file order (duplicates kept, as MOSES keeps them)."""
    fingerprints: np.ndarray | None = None
    """Packed Morgan fingerprints, (molecules, 128) uint8."""
    fragments: Counter = field(default_factory=Counter)
    scaffolds: Counter = field(default_factory=Counter)
    properties: dict[str, np.ndarray] = field(default_factory=dict)
    chemnet_mean: np.ndarray | None = None
    chemnet_cov: np.ndarray | None = None

    @property
    def full(self) -> bool:
        return self.fingerprints is not None

    @property
    def chemnet(self) -> tuple[np.ndarray, np.ndarray] | None:
        return None if self.chemnet_mean is None else (self.chemnet_mean, self.chemnet_cov)


def compute_reference_statistics(
    canonical: list[str], n_jobs: int = 2, full: bool = True, chemnet: bool = True, name: str = "reference"
) -> ReferenceStatistics:
    """The statistics of already canonical, valid SMILES (no cache); ``chemnet`` adds ChemNet's mean and covariance."""
    if not full:
        return ReferenceStatistics(list(canonical))
    features = features_of(canonical, n_jobs, with_filters=False, description=f"{name}: features")
    mean, cov = chemnet_statistics(canonical, description=f"{name}: ChemNet") if chemnet else (None, None)
    return ReferenceStatistics(
        canonical=list(canonical),
        fingerprints=np.stack([feature.fingerprint for feature in features]),
        fragments=Counter(fragment for feature in features for fragment in feature.fragments),
        scaffolds=Counter(feature.scaffold for feature in features if feature.scaffold),
        properties={name: np.array([f.properties[name] for f in features]) for name in PROPERTY_FUNCTIONS},
        chemnet_mean=mean,
        chemnet_cov=cov,
    )


def cache_root() -> Path:
    """``$GENMODELS_CACHE_DIR``, else ``$XDG_CACHE_HOME/genmodels``, else ``~/.cache/genmodels``."""
    if os.environ.get(CACHE_VARIABLE):
        return Path(os.environ[CACHE_VARIABLE])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "genmodels"


def library_versions() -> dict[str, str]:
    """The versions that change what is computed: RDKit (parsing, fingerprints, properties) and fcd-torch."""
    versions = {}
    for package in ("rdkit", "fcd-torch"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = "not installed"
    return versions


def _source_identity(source: str, split: str, column: str) -> tuple[str, str]:
    """(a description, the SHA-256 of the bytes read) of a reference: shipped subset, MOSES split or file."""
    if source == "moses":
        return f"moses {split} (shipped subset)", hashlib.sha256(shipped_moses_bytes(split)).hexdigest()
    path = Path(source) / f"{split}.csv.gz" if Path(source).is_dir() else Path(source)
    if not path.is_file():
        raise DataError(f"{path} does not exist; expected a SMILES file, a MOSES directory or 'moses'")
    return str(path), sha256_file(path)


def cache_key(content_sha256: str, column: str, full: bool) -> str:
    identity = {"format": FORMAT_VERSION, "content": content_sha256, "column": column, "full": full,
                "versions": library_versions()}  # fmt: skip
    return hashlib.sha256(json.dumps(identity, sort_keys=True).encode()).hexdigest()[:24]


def save_statistics(statistics: ReferenceStatistics, directory: Path, record: dict) -> None:
    """Write the statistics into ``directory``: each file atomically, the manifest (with their hashes) last."""
    with atomic_path(directory / "canonical.smi.gz") as temporary:
        with gzip.open(temporary, "wt", encoding="utf-8", compresslevel=1) as stream:
            stream.write("\n".join(statistics.canonical) + "\n")
    arrays = {f"property_{name}": values for name, values in statistics.properties.items()}
    if statistics.fingerprints is not None:
        arrays["fingerprints"] = statistics.fingerprints
    if statistics.chemnet_mean is not None:
        arrays.update(chemnet_mean=statistics.chemnet_mean, chemnet_cov=statistics.chemnet_cov)
    with atomic_path(directory / "arrays.npz") as temporary, open(temporary, "wb") as stream:
        np.savez(stream, **arrays)
    counts = {"fragments": dict(statistics.fragments), "scaffolds": dict(statistics.scaffolds)}
    write_text_atomic(directory / "counts.json", json.dumps(counts) + "\n")
    manifest = {**record, "format": FORMAT_VERSION, "versions": library_versions(),
                "files": {name: sha256_file(directory / name) for name in FILES}}  # fmt: skip
    write_text_atomic(directory / MANIFEST, json.dumps(manifest, indent=2) + "\n")


def load_statistics(directory: Path, expected: dict) -> ReferenceStatistics:
    """The statistics of ``directory``; ValueError when any file is missing, altered, or was built for another input."""
    manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    if manifest.get("format") != FORMAT_VERSION or manifest.get("versions") != library_versions():
        raise ValueError("built with another format or other library versions")
    if any(manifest.get(key) != value for key, value in expected.items()):
        raise ValueError("built for another input")
    for name in FILES:
        if sha256_file(directory / name) != manifest["files"][name]:
            raise ValueError(f"{name} does not match its recorded hash")
    with gzip.open(directory / "canonical.smi.gz", "rt", encoding="utf-8") as stream:
        canonical = stream.read().split()
    with np.load(directory / "arrays.npz", allow_pickle=False) as stored:
        arrays = {name: stored[name] for name in stored.files}
    counts = json.loads((directory / "counts.json").read_text(encoding="utf-8"))
    return ReferenceStatistics(
        canonical=canonical,
        fingerprints=arrays.get("fingerprints"),
        fragments=Counter(counts["fragments"]),
        scaffolds=Counter(counts["scaffolds"]),
        properties={
            name[len("property_") :]: values for name, values in arrays.items() if name.startswith("property_")
        },
        chemnet_mean=arrays.get("chemnet_mean"),
        chemnet_cov=arrays.get("chemnet_cov"),
    )


def reference_statistics(
    source: str,
    split: str = "test",
    column: str = "SMILES",
    full: bool = True,
    n_jobs: int = 2,
    cache_dir: str | Path | None = None,
) -> ReferenceStatistics:
    """The statistics of a reference: ``"moses"`` (shipped subsets) or a MOSES directory with ``split``, or a file.

    Read from the cache when a folder for exactly these bytes and library versions is there and intact;
    otherwise computed (canonicalised once, with progress) and stored. ``full=False`` keeps only the
    canonical SMILES (enough for novelty against a training set).
    """
    if (source == "moses" or Path(source).is_dir()) and split not in MOSES_SPLITS:
        raise DataError(f"MOSES splits are {', '.join(MOSES_SPLITS)}, got {split!r}")
    origin, content = _source_identity(source, split, column)
    directory = Path(cache_dir) if cache_dir is not None else cache_root()
    directory = directory / "molecule-references" / cache_key(content, column, full)
    expected = {"content_sha256": content, "column": column, "full": full}
    if (directory / MANIFEST).is_file():
        try:
            return load_statistics(directory, expected)
        except (OSError, ValueError, KeyError, EOFError, json.JSONDecodeError) as error:
            warnings.warn(
                f"the cached statistics in {directory} cannot be used ({error}); rebuilding them", stacklevel=2
            )
    molecules = load_smiles(source, column, split=split, n_jobs=n_jobs, description=f"{origin}: canonical SMILES")
    statistics = compute_reference_statistics(molecules.smiles, n_jobs, full=full, name=origin)
    save_statistics(statistics, directory, {**expected, "source": origin, "rows": molecules.report["rows"]})
    return statistics

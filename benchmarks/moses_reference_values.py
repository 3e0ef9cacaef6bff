"""The official MOSES metrics (molsets 0.3.1) of the agreement set checked into tests/data/moses_agreement.

Run in the molsets environment (``bash benchmarks/reference/molsets_env.sh``):

    /work/venvs/molsets/bin/python benchmarks/moses_reference_values.py

It prints the values that tests/test_moses_agreement.py freezes, and writes them with the library versions
to benchmarks/results/moses_reference_values.json. Frag is given twice: as molsets returns it, and
recomputed in float64 from molsets' own fragment counts (its scipy cosine multiplies int64 sums of
squares, which overflow on large sets and then read exactly 1.0).
"""

from __future__ import annotations

import json
import sys
from importlib import metadata
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent / "reference"))
import molsets_shims  # noqa: E402, F401  (before moses)
from moses.metrics import get_all_metrics  # noqa: E402
from moses.metrics.metrics import FragMetric, remove_invalid  # noqa: E402
from moses.metrics.utils import get_mol  # noqa: E402

DATA = Path(__file__).parent.parent / "tests" / "data" / "moses_agreement"
UNIQUE_AT = 100


def read_lines(name: str) -> list[str]:
    """One string a line, empty lines kept (an empty string is an invalid molecule)."""
    return (DATA / name).read_text(encoding="utf-8").split("\n")[:-1]


def float64_cosine(reference: dict, generated: dict) -> float:
    keys = sorted(set(reference) | set(generated))
    a = np.array([reference.get(key, 0) for key in keys], np.float64)
    b = np.array([generated.get(key, 0) for key in keys], np.float64)
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


def official_values(generated: list[str], train: list[str], test: list[str], scaffolds: list[str]) -> dict:
    metrics = get_all_metrics(generated, k=[UNIQUE_AT], n_jobs=1, test=test, test_scaffolds=scaffolds, train=train)
    metrics = {name: float(value) for name, value in metrics.items()}
    molecules = [get_mol(smiles) for smiles in remove_invalid(generated, canonize=True)]
    generated_fragments = FragMetric().precalc(molecules)["frag"]
    for name, reference in (("Test", test), ("TestSF", scaffolds)):
        reference_fragments = FragMetric().precalc([get_mol(smiles) for smiles in reference])["frag"]
        metrics[f"Frag/{name} (molsets)"] = metrics[f"Frag/{name}"]
        metrics[f"Frag/{name}"] = float64_cosine(reference_fragments, generated_fragments)
    return metrics


def main() -> None:
    sets = {name: read_lines(f"{name}.smi") for name in ("train", "test", "test_scaffolds")}
    metrics = official_values(read_lines("generated.txt"), sets["train"], sets["test"], sets["test_scaffolds"])
    versions = {package: metadata.version(package) for package in ("molsets", "rdkit", "fcd-torch", "torch", "numpy")}
    record = {"data": str(DATA.relative_to(DATA.parents[2])), "unique_at": UNIQUE_AT, "metrics": metrics,
              "versions": versions}  # fmt: skip
    output = Path(__file__).parent / "results" / "moses_reference_values.json"
    output.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    for name, value in metrics.items():
        print(f"    {name!r}: {value!r},")


if __name__ == "__main__":
    main()

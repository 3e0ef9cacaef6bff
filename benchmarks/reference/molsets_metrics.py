"""The official MOSES metrics (molsets 0.3.1) of a file of generated SMILES, timed; run in the molsets environment.

    /work/venvs/molsets/bin/python benchmarks/reference/molsets_metrics.py GENERATED MOSES_DIR OUTPUT.json

With ``--shipped-statistics`` the test and scaffold-test sets and their statistics are the ones molsets
ships (what ``get_all_metrics(gen)`` uses by default, for the full MOSES sets); otherwise the sets of
MOSES_DIR are read and their statistics computed first with ``compute_intermediate_statistics``, timed
apart. Frag is also recomputed in float64 from molsets' own fragment counts, outside the timed part.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).parent))
import molsets_shims  # noqa: E402, F401  (before moses)
from moses.dataset import get_statistics  # noqa: E402
from moses.metrics import compute_intermediate_statistics, get_all_metrics  # noqa: E402
from moses.metrics.metrics import FragMetric, remove_invalid  # noqa: E402
from moses.metrics.utils import get_mol  # noqa: E402


def float64_cosine(reference: dict, generated: dict) -> float:
    keys = sorted(set(reference) | set(generated))
    a = np.array([reference.get(key, 0) for key in keys], np.float64)
    b = np.array([generated.get(key, 0) for key in keys], np.float64)
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("generated", type=Path)
    parser.add_argument("moses", type=Path, help="directory with train/test/test_scaffolds .csv.gz")
    parser.add_argument("output", type=Path)
    parser.add_argument("--shipped-statistics", action="store_true")
    parser.add_argument("--n-jobs", type=int, default=2)
    args = parser.parse_args()
    generated = args.generated.read_text(encoding="utf-8").split("\n")[:-1]
    sets = {name: pd.read_csv(args.moses / f"{name}.csv.gz")["SMILES"].tolist() for name in
            ("train", "test", "test_scaffolds")}  # fmt: skip
    record: dict = {"precompute_seconds": None}
    if args.shipped_statistics:
        references = {"test": None, "test_scaffolds": None, "ptest": None, "ptest_scaffolds": None}
        statistics = {"Test": get_statistics("test"), "TestSF": get_statistics("test_scaffolds")}
    else:
        started = time.perf_counter()
        statistics = {name: compute_intermediate_statistics(sets[split], n_jobs=args.n_jobs)
                      for name, split in (("Test", "test"), ("TestSF", "test_scaffolds"))}  # fmt: skip
        record["precompute_seconds"] = time.perf_counter() - started
        references = {"test": sets["test"], "test_scaffolds": sets["test_scaffolds"], "ptest": statistics["Test"],
                      "ptest_scaffolds": statistics["TestSF"]}  # fmt: skip
    started = time.perf_counter()
    metrics = get_all_metrics(generated, n_jobs=args.n_jobs, train=sets["train"], **references)
    record["metrics_seconds"] = time.perf_counter() - started
    metrics = {name: float(value) for name, value in metrics.items()}
    molecules = [get_mol(smiles) for smiles in remove_invalid(generated, canonize=True)]
    generated_fragments = FragMetric().precalc(molecules)["frag"]
    for name in ("Test", "TestSF"):
        metrics[f"Frag/{name} (molsets)"] = metrics[f"Frag/{name}"]
        metrics[f"Frag/{name}"] = float64_cosine(statistics[name]["Frag"]["frag"], generated_fragments)
    record["metrics"] = metrics
    args.output.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

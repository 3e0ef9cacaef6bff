"""``genmodels molecules evaluate`` against the official MOSES package (molsets 0.3.1), side by side in one run.

    python benchmarks/moses_metrics_speed.py --moses /work/shared/data/moses \
        --output benchmarks/results/moses_metrics_speed.json

The generated set is ``--strings`` SMILES: 90% scaffold-test molecules and 10% scaffold-test molecules with
one character deleted (seeded), as a generator's output mixes valid and invalid strings. Each side runs
as a child process whose peak memory (resident set of the process and all its workers, sampled every
0.1 s) and wall time are recorded: genmodels with an empty statistics cache (cold), then again (warm),
then molsets in its own environment (``benchmarks/reference/molsets_env.sh``) via
``benchmarks/reference/molsets_metrics.py``. With the full MOSES sets molsets uses the statistics it
ships; with ``--reference-rows`` (the first rows of each set, for a machine where the full run does not
fit) it computes them first, timed apart (its cold cost). Every metric is compared: 1e-3 relative,
2e-3 absolute for FCD and the property distances (the official statistics came from an older RDKit).
The load average of the machine is recorded before and after each side, since other jobs share it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import psutil

from genmodels.io.versions import software_versions

ROOT = Path(__file__).resolve().parent.parent
ABSOLUTE = {"FCD/Test", "FCD/TestSF", "logP", "SA", "QED", "weight"}
SPLITS = ("train", "test", "test_scaffolds")


def generated_strings(scaffold_test: list[str], count: int, seed: int) -> list[str]:
    """90% scaffold-test molecules, 10% with one character deleted (most of those invalid)."""
    rng = np.random.default_rng(seed)
    picked = rng.choice(len(scaffold_test), count, replace=False)
    damaged = count // 10
    strings = [scaffold_test[index] for index in picked[: count - damaged]]
    for index in picked[count - damaged :]:
        text = scaffold_test[index]
        position = int(rng.integers(len(text)))
        strings.append(text[:position] + text[position + 1 :])
    return strings


def timed_child(command: list[str], environment: dict[str, str]) -> dict:
    """Run ``command``; its wall time, exit code and peak resident memory of it and its workers together."""
    load_before = os.getloadavg()
    started = time.perf_counter()
    process = subprocess.Popen(command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peak, done = [0], threading.Event()

    def sample() -> None:
        parent = psutil.Process(process.pid)
        while not done.wait(0.1):
            try:
                tree = [parent, *parent.children(recursive=True)]
                peak[0] = max(peak[0], sum(member.memory_info().rss for member in tree if member.is_running()))
            except psutil.Error:
                continue

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output, _ = process.communicate()
    done.set()
    sampler.join()
    seconds = time.perf_counter() - started
    if process.returncode:
        raise SystemExit(f"{' '.join(command)} failed ({process.returncode}):\n{output[-3000:]}")
    return {"seconds": seconds, "peak_rss_gb": peak[0] / 1e9, "load_before": load_before,
            "load_after": os.getloadavg(), "log_tail": output[-1500:]}  # fmt: skip


def comparison(ours: dict, official: dict) -> dict:
    rows = {}
    for name, expected in official.items():
        if "(molsets)" in name or name not in ours:
            continue
        if ours[name] is None:  # unique@k with fewer than k valid molecules: n/a here, a fraction of fewer in molsets
            rows[name] = {"genmodels": None, "molsets": expected, "within_tolerance": None}
            continue
        difference = abs(ours[name] - expected)
        relative = difference / abs(expected) if expected else difference
        within = difference <= 2e-3 if name in ABSOLUTE else relative <= 1e-3
        rows[name] = {"genmodels": ours[name], "molsets": expected, "abs_diff": difference, "rel_diff": relative,
                      "within_tolerance": bool(within)}  # fmt: skip
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moses", type=Path, required=True, help="directory with train/test/test_scaffolds .csv.gz")
    parser.add_argument("--strings", type=int, default=30000)
    parser.add_argument("--reference-rows", type=int, default=0, help="first rows of test sets (0: all)")
    parser.add_argument("--train-rows", type=int, default=0, help="first rows of the training set (0: all)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--molsets-python", default="/work/venvs/molsets/bin/python")
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks/results/moses_metrics_speed.json")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="moses-speed-"))
    sets = {split: pd.read_csv(args.moses / f"{split}.csv.gz")["SMILES"].tolist() for split in SPLITS}
    full = not args.reference_rows and not args.train_rows
    moses = args.moses
    if not full:
        moses = work / "moses"
        moses.mkdir()
        for split, rows in sets.items():
            limit = args.train_rows if split == "train" else args.reference_rows
            pd.DataFrame({"SMILES": rows[:limit] if limit else rows}).to_csv(moses / f"{split}.csv.gz", index=False)
    generated = work / "generated.smi"
    generated.write_text("\n".join(generated_strings(sets["test_scaffolds"], args.strings, args.seed)) + "\n")
    environment = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "GENMODELS_PROGRESS_SECONDS": "60"}
    evaluate = [sys.executable, "-m", "genmodels", "molecules", "evaluate", str(generated), "--reference", str(moses),
                "--cache-dir", str(work / "cache"), "--n-jobs", "2", "-o", str(work / "genmodels.json")]  # fmt: skip
    results = {"cold": timed_child(evaluate, environment), "warm": timed_child(evaluate, environment)}
    ours = json.loads((work / "genmodels.json").read_text())["metrics"]
    official_command = [args.molsets_python, str(ROOT / "benchmarks/reference/molsets_metrics.py"), str(generated),
                        str(moses), str(work / "molsets.json"), "--n-jobs", "2"]  # fmt: skip
    if full:
        official_command.append("--shipped-statistics")
    results["molsets"] = timed_child(official_command, {**os.environ, "PYTHONPATH": ""})
    official = json.loads((work / "molsets.json").read_text())
    results["molsets"].update(
        precompute_seconds=official["precompute_seconds"], metrics_seconds=official["metrics_seconds"]
    )
    compared = comparison(ours, official["metrics"])
    record = {
        "setup": {
            "strings": args.strings,
            "seed": args.seed,
            "reference_rows": args.reference_rows or "all",
            "train_rows": args.train_rows or "all",
            "cpus": os.cpu_count(),
            "n_jobs": 2,
        },  # fmt: skip
        "seconds": {side: results[side]["seconds"] for side in ("cold", "warm", "molsets")},
        "peak_rss_gb": {side: results[side]["peak_rss_gb"] for side in ("cold", "warm", "molsets")},
        "speedup_warm": results["molsets"]["seconds"] / results["warm"]["seconds"],
        "speedup_cold": results["molsets"]["seconds"] / results["cold"]["seconds"],
        "all_within_tolerance": all(row["within_tolerance"] is not False for row in compared.values()),
        "runs": results,
        "metrics": compared,
        "molsets_frag_as_returned": {name: value for name, value in official["metrics"].items() if "(molsets)" in name},
        "versions": software_versions(),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({key: record[key] for key in ("seconds", "peak_rss_gb", "speedup_warm", "all_within_tolerance")}))


if __name__ == "__main__":
    main()

"""Wall time of a first training run: the final evaluation full, quick or skipped, and ``--quick`` per family.

Each run is ``genmodels train`` in its own process, as a user types it, into a fresh temporary
directory; the time is the whole command (start-up, training, pictures, evaluation, report), and
the training part is read from the run's ``report.json``. The load average of the machine is
recorded beside the numbers, since a shared machine slows every run.

    python benchmarks/first_try.py --output benchmarks/results/first_try.json
    python benchmarks/first_try.py --only quick   # one table again; the other stays in the file

Each run records its own load average, time and software versions, since the two tables may be
measured at different times.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from genmodels.io.versions import software_versions

REPOSITORY = Path(__file__).resolve().parents[1]
FINAL_EVALUATION_RUNS = {
    f"conv-vae mnist5k --max-steps 200 --final-eval {mode}": [
        "conv-vae", "--data", "mnist5k", "--max-steps", "200", "--final-eval", mode,
    ]
    for mode in ("full", "quick", "none")
}  # fmt: skip
QUICK_RUNS = {
    "conv-vae mnist5k --quick": ["conv-vae", "--data", "mnist5k", "--quick"],
    "dcgan mnist5k --quick": ["dcgan", "--data", "mnist5k", "--quick"],
    "pixelcnn mnist5k --quick": ["pixelcnn", "--data", "mnist5k", "--quick"],
    "gpt shakespeare --quick": ["gpt", "--data", "shakespeare", "--quick"],
}


def timed_run(arguments: list[str], folder: Path) -> dict:
    """One ``genmodels train`` in a subprocess: total seconds, training seconds and steps from its report."""
    run_dir = folder / "run"
    command = [sys.executable, "-m", "genmodels", "train", *arguments, "-o", str(run_dir), "--no-progress"]
    environment = {**os.environ, "PYTHONPATH": str(REPOSITORY / "src")}
    start = time.perf_counter()
    finished = subprocess.run(command, cwd=folder, capture_output=True, text=True, env=environment)
    seconds = time.perf_counter() - start
    if finished.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{finished.stdout[-3000:]}\n{finished.stderr[-3000:]}")
    report = json.loads((run_dir / "report.json").read_text(encoding="utf-8"))
    return {
        "seconds_total": round(seconds, 1),
        "seconds_training": round(report["training"]["seconds"], 1),
        "seconds_after_training": round(seconds - report["training"]["seconds"], 1),
        "steps": report["training"]["steps"],
        "final_evaluation": report["final_evaluation"],
        "load_average_after": round(os.getloadavg()[0], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results/first_try.json"))
    parser.add_argument("--only", choices=("final-eval", "quick"), help="Run one of the two tables only.")
    arguments = parser.parse_args()
    cases = {}
    if arguments.only != "quick":
        cases.update(FINAL_EVALUATION_RUNS)
    if arguments.only != "final-eval":
        cases.update(QUICK_RUNS)
    results = {"machine": {"processor": platform.processor(), "cpus": os.cpu_count()}, "runs": {}}
    if arguments.only and arguments.output.is_file():  # one table measured again: the other one stays
        results = json.loads(arguments.output.read_text(encoding="utf-8"))
    for name, train_arguments in cases.items():
        load_before = os.getloadavg()[0]
        with tempfile.TemporaryDirectory() as folder:
            measured = timed_run(train_arguments, Path(folder))
        results["runs"][name] = {
            **measured,
            "load_average_before": round(load_before, 1),
            "measured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "versions": software_versions(),
        }
        print(name, json.dumps(measured), flush=True)
        arguments.output.parent.mkdir(parents=True, exist_ok=True)
        arguments.output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

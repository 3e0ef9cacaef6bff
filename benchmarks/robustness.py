"""Robustness report: how many fuzzed cases end in success, a clear error, a traceback, a hang or lost data.

Runs the fuzz suite (``tests/test_fuzz.py``) with every outcome recorded and none stopping the run,
then counts the outcomes per test and lists every case that was not a success or a clear error.

    python benchmarks/robustness.py                       # the CI profile: a fixed set of examples
    python benchmarks/robustness.py --profile long        # about 20 times as many
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KINDS = ("success", "clear error", "traceback", "hang", "data lost")


def run_suite(profile: str, log: Path) -> float:
    """Run the fuzz suite, recording every outcome to ``log``; returns the wall time in seconds."""
    environment = {
        **os.environ,
        "GENMODELS_FUZZ_PROFILE": profile,
        "GENMODELS_FUZZ_LOG": str(log),
        "GENMODELS_FUZZ_RECORD_ONLY": "1",
    }
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "pytest", "tests/test_fuzz.py", "-q", "-p", "no:cacheprovider"],
        cwd=ROOT,
        env=environment,
        check=False,
    )
    return time.perf_counter() - started


def summarise(log: Path) -> dict:
    outcomes = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    per_area: dict[str, Counter] = defaultdict(Counter)
    for outcome in outcomes:
        per_area[outcome["case"].split(" ")[0]][outcome["kind"]] += 1
    totals = Counter(outcome["kind"] for outcome in outcomes)
    return {
        "cases": len(outcomes),
        "totals": {kind: totals.get(kind, 0) for kind in KINDS},
        "per_command": {
            area: {kind: counts.get(kind, 0) for kind in KINDS} for area, counts in sorted(per_area.items())
        },
        "defects": [outcome for outcome in outcomes if outcome["kind"] not in ("success", "clear error")],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="ci", choices=["ci", "long"])
    parser.add_argument("--output", type=Path, default=ROOT / "benchmarks" / "results" / "robustness.json")
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        log = Path(folder) / "outcomes.jsonl"
        seconds = run_suite(arguments.profile, log)
        summary = summarise(log)
    sys.path.insert(0, str(ROOT / "src"))
    from genmodels.io.versions import software_versions

    result = {"profile": arguments.profile, "seconds": round(seconds, 1), **summary, "versions": software_versions(),
              "command": f"python benchmarks/robustness.py --profile {arguments.profile}"}  # fmt: skip
    arguments.output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps({key: result[key] for key in ("profile", "seconds", "cases", "totals")}, indent=2))
    for defect in summary["defects"]:
        print(f"{defect['kind']}: {defect['case']}: {defect['detail']}")


if __name__ == "__main__":
    main()

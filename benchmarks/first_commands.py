"""Wall time of what README.md's two commands run after installing: the demo and the test suite.

Both run as a user runs them, each in its own process, the demo into a fresh temporary directory;
the test suite's summary line is kept as printed.

    python benchmarks/first_commands.py --output benchmarks/results/first_commands.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from genmodels.io.versions import software_versions

REPOSITORY = Path(__file__).resolve().parents[1]


def timed(command: list[str]) -> tuple[float, str]:
    start = time.perf_counter()
    finished = subprocess.run(command, cwd=REPOSITORY, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if finished.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{finished.stdout[-3000:]}\n{finished.stderr[-3000:]}")
    return seconds, finished.stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results/first_commands.json"))
    arguments = parser.parse_args()

    with tempfile.TemporaryDirectory() as directory:
        demo_seconds, _ = timed(["genmodels", "demo", "-o", str(Path(directory) / "demo-output")])
        written = sorted(str(path.relative_to(directory)) for path in Path(directory).rglob("*") if path.is_file())
    tests_seconds, output = timed([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"])
    summary = next((line for line in reversed(output.splitlines()) if re.search(r"\d+ passed", line)), "")
    result = {
        "demo": {"seconds": demo_seconds, "files_written": written},
        "test_suite": {"seconds": tests_seconds, "summary": summary.strip("= ")},
        "machine": {"platform": platform.platform(), "cpus": len(os.sched_getaffinity(0))},
        "versions": software_versions(),
        "command": "python benchmarks/first_commands.py",
    }
    print(f"demo {demo_seconds:.0f} s; test suite {tests_seconds:.0f} s ({result['test_suite']['summary']})")
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    arguments.output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

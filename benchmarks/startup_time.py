"""Start-up cost of the package and the CLI, side by side with ``import torch`` in the same run.

Each command runs in a fresh interpreter, the commands interleaved round by round so that machine
load affects all of them alike; the wall time of the whole process is measured. Reported: minimum
and median over the rounds, and each median's ratio to ``import torch``'s.

    python benchmarks/startup_time.py --rounds 15 --output benchmarks/results/startup_time.json
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from genmodels.io.versions import software_versions

PYTHON = sys.executable
COMMANDS: dict[str, list[str]] = {
    "python (empty)": [PYTHON, "-c", "pass"],
    "import torch": [PYTHON, "-c", "import torch"],
    "import genmodels": [PYTHON, "-c", "import genmodels"],
    "from genmodels import VAE": [PYTHON, "-c", "from genmodels import VAE"],
    "from genmodels import VAE, GAN, GPT, Trainer, load_data": [
        PYTHON,
        "-c",
        "from genmodels import VAE, GAN, GPT, Trainer, load_data",
    ],
    "genmodels --help": ["genmodels", "--help"],
    "genmodels train --help": ["genmodels", "train", "--help"],
    "genmodels molecules --help": ["genmodels", "molecules", "--help"],
}


def time_once(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results/startup_time.json"))
    arguments = parser.parse_args()
    if shutil.which("genmodels") is None:
        raise SystemExit("the genmodels command is not on PATH: pip install -e . first")

    for command in COMMANDS.values():  # warm the file system cache once
        time_once(command)
    seconds: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(arguments.rounds):
        for name, command in COMMANDS.items():
            seconds[name].append(time_once(command))

    torch_median = statistics.median(seconds["import torch"])
    rows = {
        name: {
            "min_s": min(values),
            "median_s": statistics.median(values),
            "ratio_to_import_torch": statistics.median(values) / torch_median,
        }
        for name, values in seconds.items()
    }
    for name, row in rows.items():
        print(
            f"{name:58s} min {row['min_s']:.3f} s  median {row['median_s']:.3f} s  x{row['ratio_to_import_torch']:.2f}"
        )
    result = {
        "rounds": arguments.rounds,
        "results": rows,
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor(),
            "cpus": len(os.sched_getaffinity(0)),
        },
        "versions": software_versions(),
        "command": f"python benchmarks/startup_time.py --rounds {arguments.rounds}",
    }
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    arguments.output.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

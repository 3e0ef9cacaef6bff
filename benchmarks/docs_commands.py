"""Run every ``genmodels`` command of README.md and the docs guides, in order, on tiny budgets.

Each shell block of the pages is read, continuation lines joined and comments dropped; each
``genmodels`` command is rewritten by :data:`SUBSTITUTIONS` (small budgets, the small digits set for
mnist5k) and run in one scratch directory, so a command finds the runs earlier ones made. A command
fails the script when it exits non-zero or prints a traceback. Commands that need what a scratch
directory cannot have (a GPU, several nodes, a file of the user's) are skipped, each with its reason
(:data:`SKIPS`); runs the pages name without creating are trained first (:data:`SETUP`).

    python benchmarks/docs_commands.py --output benchmarks/results/docs_commands.json
    python benchmarks/docs_commands.py --pages README.md docs/guides/images.md   # some pages only
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
GUIDES = sorted(str(page.relative_to(REPOSITORY)) for page in (REPOSITORY / "docs" / "guides").glob("*.md"))
PAGES = ("README.md", "docs/getting-started.md", *GUIDES)
TINY_STEPS = "--max-steps 5"
TINY_TRAINING = "--batch-size 16 --val-every 5 --no-progress"

SUBSTITUTIONS: tuple[tuple[str, str], ...] = (
    (r"--max-seconds \d+", "--max-steps 5"),
    (r"--max-steps \d+", "--max-steps 5"),
    (r"--steps \d+", "--steps 5"),
    (r"--data mnist5k", "--data digits"),
    (r"-n \d+", "-n 8"),
    (r"--max-new-tokens \d+", "--max-new-tokens 20"),
    (r"--num-samples \d+", "--num-samples 64"),
    (r"--early-stopping-patience \d+", ""),
    (r"--vote-strata \d+", "--vote-strata 4"),
    (r"--unfreeze-every \d+", "--unfreeze-every 2"),
    (r"--rounds \d+", "--rounds 1"),
    (r"--set data.context_length=\d+", "--set data.context_length=32"),
    (r"--set model.kl_warmup_steps=\d+", "--set model.kl_warmup_steps=2"),
    (r"^(genmodels detect protocol (?!.*--max-steps).*)$", r"\1 --max-steps 5"),
)
"""Budget rewrites, applied in order to every command: what keeps each under a few seconds of training."""

TRAINING_COMMANDS = ("genmodels train ", "genmodels finetune ", "genmodels detect fit ")
"""Commands that also get :data:`TINY_TRAINING`, and :data:`TINY_STEPS` where they name no budget."""

SKIPS: tuple[tuple[str, str], ...] = (
    (r"--accelerator cuda|--precision (bf16|16)-mixed", "needs a GPU"),
    (r"^torchrun|--num-nodes", "needs several nodes"),
    (r"--devices [2-9]", "starts several processes (tests/test_ddp.py covers it)"),
    (
        r"my_pngs|my_labelled_pngs|my_corpus|transactions\.csv|new\.csv|labelled\.csv|customers\.csv|actives",
        "reads a file of the user's",
    ),  # fmt: skip
    (r"detect protocol one-class", "trains a model per class (benchmarks/anomaly_detection.py runs it)"),
    (r"genmodels demo$|genmodels demo -o", "the demo is timed by benchmarks/first_commands.py"),
    (r"--resume", "continues a run that was stopped"),
    (r"--reference moses|--known moses|molecules (optimize|vote)", "a MOSES-scale molecule step (slow tests)"),
    (r"models/gpt-my-play|merge-lora runs/gpt-finetuned", "needs a LoRA run of a user's play"),
    (r"genmodels serve ", "a server runs until stopped (tests/test_serve.py and benchmarks/serving.py run it)"),
)
"""Commands not run here, each with why."""

SETUP: dict[str, str] = {
    "runs/gan-a": "genmodels train gan --data digits --seed 0 -o runs/gan-a",
    "runs/gan-b": "genmodels train gan --data digits --seed 1 -o runs/gan-b",
    "runs/vae": "genmodels train vae --data digits -o runs/vae",
    "runs/vae-a": "genmodels train vae --data digits --seed 0 -o runs/vae-a",
    "runs/vae-b": "genmodels train vae --data digits --seed 1 -o runs/vae-b",
    "runs/vae-c": "genmodels train vae --data digits --seed 2 -o runs/vae-c",
    "runs/made-3": "genmodels train made --data digits --set data.classes=[3] -o runs/made-3",
    "runs/vae-3": "genmodels train vae --data digits --set data.classes=[3] -o runs/vae-3",
    "runs/gpt-shakespeare": "genmodels train gpt --data shakespeare -o runs/gpt-shakespeare",
    "runs/charrnn-moses": "genmodels train charrnn --data moses -o runs/charrnn-moses",
    "runs/charrnn-a": "genmodels train charrnn --data moses --seed 0 -o runs/charrnn-a",
    "runs/charrnn-b": "genmodels train charrnn --data moses --seed 1 -o runs/charrnn-b",
}
"""Runs a page uses but does not create, trained (tiny) before the first command that names them."""

FILES: dict[str, str] = {
    "my_play.txt": "HAMLET:\nTo be, or not to be, that is the question.\n" * 200,
    "my_book.txt": "It was a bright cold day in April, and the clocks were striking thirteen.\n" * 200,
    "more_lines.txt": "OPHELIA:\nGood my lord, how does your honour for this many a day?\n" * 200,
}
"""Small files the pages' commands read, written into the scratch directory first."""


@dataclass
class Outcome:
    page: str
    command: str
    run: str
    status: str
    """passed, failed or skipped."""
    seconds: float
    reason: str = ""


def page_commands(page: Path) -> list[str]:
    """The ``genmodels`` commands of the page's bash blocks, continuation lines joined, comments dropped."""
    commands = []
    for block in re.findall(r"```(?:bash|sh|shell|console)\n(.*?)```", page.read_text(encoding="utf-8"), re.S):
        for line in block.replace("\\\n", " ").splitlines():
            words = shlex.split(line, comments=True)
            if words and words[0] in ("genmodels", "torchrun"):
                commands.append(shlex.join(words))
    return commands


def rewrite(command: str) -> str:
    """The command on tiny budgets (:data:`SUBSTITUTIONS`, and :data:`TINY_TRAINING` for training)."""
    for pattern, replacement in SUBSTITUTIONS:
        command = re.sub(pattern, replacement, command)
    if command.startswith(TRAINING_COMMANDS):
        budget = "" if "--max-steps" in command or command.startswith("genmodels detect fit") else TINY_STEPS
        command = f"{command} {budget} {TINY_TRAINING}"
    return " ".join(command.split())


def skip_reason(command: str) -> str | None:
    return next((reason for pattern, reason in SKIPS if re.search(pattern, command)), None)


def run_command(command: str, directory: Path, timeout: float) -> tuple[bool, float, str]:
    """Run ``command`` (its ``genmodels`` from this checkout's sources); ok when it exits 0 with no traceback."""
    words = shlex.split(command)
    arguments = [sys.executable, "-m", "genmodels", *words[1:]]
    environment = {**os.environ, "PYTHONPATH": str(REPOSITORY / "src"), "OMP_NUM_THREADS": "1"}
    start = time.perf_counter()
    try:
        finished = subprocess.run(
            arguments, cwd=directory, capture_output=True, text=True, timeout=timeout, env=environment
        )
    except subprocess.TimeoutExpired:
        return False, time.perf_counter() - start, f"timed out after {timeout:.0f} s"
    seconds = time.perf_counter() - start
    output = finished.stdout + finished.stderr
    if finished.returncode != 0 or "Traceback (most recent call last)" in output:
        return False, seconds, f"exit {finished.returncode}: {output[-1500:]}"
    return True, seconds, ""


def run_pages(pages: list[str], directory: Path, timeout: float) -> list[Outcome]:
    for name, text in FILES.items():
        (directory / name).write_text(text, encoding="utf-8")
    outcomes: list[Outcome] = []
    for page in pages:
        for command in page_commands(REPOSITORY / page):
            tiny = rewrite(command)
            reason = skip_reason(tiny)
            if reason:
                outcomes.append(Outcome(page, command, tiny, "skipped", 0.0, reason))
                continue
            for run_dir, setup in SETUP.items():
                if re.search(rf"(?<![\w/-]){re.escape(run_dir)}(?![\w-])", tiny) and not (directory / run_dir).exists():
                    ok, seconds, why = run_command(rewrite(setup), directory, timeout)
                    outcomes.append(Outcome(page, setup, rewrite(setup), "passed" if ok else "failed", seconds, why))
            ok, seconds, why = run_command(tiny, directory, timeout)
            outcomes.append(Outcome(page, command, tiny, "passed" if ok else "failed", seconds, why))
            print(f"{outcomes[-1].status:7s} {seconds:6.1f} s  {tiny}", flush=True)
    return outcomes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", nargs="+", default=list(PAGES))
    parser.add_argument("--timeout", type=float, default=600.0, help="Seconds one command may take.")
    parser.add_argument("--output", type=Path)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as directory:
        start = time.perf_counter()
        outcomes = run_pages(arguments.pages, Path(directory), arguments.timeout)
        seconds = time.perf_counter() - start
    counts = {status: sum(o.status == status for o in outcomes) for status in ("passed", "failed", "skipped")}
    print(f"{counts['passed']} passed, {counts['failed']} failed, {counts['skipped']} skipped in {seconds:.0f} s")
    if arguments.output:
        from genmodels.io.versions import software_versions

        record = {"pages": arguments.pages, "seconds": seconds, **counts, "substitutions": SUBSTITUTIONS,
                  "tiny_training": f"{TINY_STEPS} {TINY_TRAINING}", "commands": [asdict(o) for o in outcomes],
                  "machine": {"cpus": len(os.sched_getaffinity(0))}, "versions": software_versions(),
                  "command": "python benchmarks/docs_commands.py"}  # fmt: skip
        arguments.output.parent.mkdir(parents=True, exist_ok=True)
        arguments.output.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    for outcome in outcomes:
        if outcome.status == "failed":
            print(f"FAILED {outcome.page}: {outcome.run}\n{outcome.reason}", file=sys.stderr)
    raise SystemExit(1 if counts["failed"] else 0)


if __name__ == "__main__":
    main()

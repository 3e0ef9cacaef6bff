"""Character-level GPT on Tiny Shakespeare: validation loss against CPU wall time, beside nanoGPT.

    python benchmarks/text_gpt.py --reference-python .venv-reference/bin/python --nanogpt /tmp/nanogpt

Trains (1) our GPT with nanoGPT's documented CPU configuration (4 layers, 4 heads, 128 wide,
context 64, batch 12, 2,000 iterations, learning rate 1e-3 with warm-up and cosine decay to 1e-4)
and (2) our faster recipe: the same network with rotary positions, batch 32, learning rate 3e-3,
550 iterations; records when each first reaches the target
validation loss (1.88 nats/char), its final validation loss, training tokens/s and sampling
tokens/s with and without the key/value cache. With ``--nanogpt`` it also runs nanoGPT itself
(in the reference environment) and scores its checkpoint on the same validation characters.
Validation loss is always the exact mean over every character of the last 10% of the corpus,
in consecutive 64-character windows.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

import torch

from genmodels.io.versions import software_versions
from genmodels.runs import make_spec, train_run
from genmodels.training.history import read_history

TARGET = 1.88
TEXT = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "text" / "tinyshakespeare.txt"
DATA = {"name": "shakespeare", "context_length": 64, "validation_fraction": 0.1, "test_fraction": 0.0}
MODEL = {"num_layers": 4, "num_heads": 4, "embedding_dim": 128, "dropout": 0.0, "bias": False}
REFERENCE_TRAINER = {
    "optimizer": "adamw", "learning_rate": 1e-3, "betas": (0.9, 0.99), "weight_decay": 0.1, "batch_size": 12,
    "max_steps": 2000, "lr_schedule": "cosine", "min_lr_ratio": 0.1, "warmup_steps": 100, "gradient_clip_norm": 1.0,
    "val_every": 250,
}  # fmt: skip
RECIPES = {
    "nanoGPT CPU configuration, our trainer": {"trainer": REFERENCE_TRAINER},
    "fast recipe": {
        "model": {"positions": "rotary"},
        "trainer": {**REFERENCE_TRAINER, "learning_rate": 3e-3, "batch_size": 32, "max_steps": 550,
                    "warmup_steps": 50, "val_every": 110},
    },
}  # fmt: skip


def train_recipe(name: str, recipe: dict, seed: int, max_seconds: float | None, root: Path) -> dict:
    trainer = {**recipe["trainer"], "seed": seed, "progress_bar": False, "tensorboard": False}
    trainer["checkpoint_every"] = trainer["max_steps"]
    if max_seconds is not None:
        trainer["max_seconds"] = max_seconds
    spec = make_spec("gpt", DATA, {**MODEL, **recipe.get("model", {})}, trainer)
    outcome = train_run(spec, root / f"{name.replace(' ', '-').replace(',', '')}-{seed}")
    validations = [row for row in read_history(outcome.run_dir / "history.csv") if row["split"] == "validation"]
    reached = next((row for row in validations if float(row["loss"]) <= TARGET), None)
    context = DATA["context_length"]
    return {
        "recipe": name,
        "seed": seed,
        "spec": spec.to_dict(),
        "steps": outcome.fit.steps,
        "train_seconds": outcome.fit.seconds,
        "train_tokens_per_second": outcome.fit.examples_per_second * context,
        "final_validation_nats_per_char": outcome.report["test"]["text"]["nats_per_token"],
        "best_validation_nats_per_char": min(float(row["loss"]) for row in validations),
        "seconds_to_target": float(reached["seconds"]) if reached else None,
        "steps_to_target": int(reached["step"]) if reached else None,
        "validations": [{"step": int(row["step"]), "loss": float(row["loss"]), "seconds": float(row["seconds"])}
                        for row in validations],
        "sampling": sampling_speed(outcome.model),
    }  # fmt: skip


def sampling_speed(model, new_tokens: int = 500) -> dict[str, float]:
    """Tokens per second generating 500 new characters, one sample and a batch of 16, with and without the cache."""
    speeds = {}
    for batch in (1, 16):
        for use_cache in (True, False):
            started = time.perf_counter()
            model.generate_batch("ROMEO:", new_tokens, num_samples=batch, seed=0, use_cache=use_cache)
            speeds[f"batch {batch}, {'cached' if use_cache else 'uncached'}"] = (
                batch * new_tokens / (time.perf_counter() - started)
            )
    return speeds


def run_nanogpt(python: str, nanogpt: Path, out: Path) -> dict:
    script = Path(__file__).parent / "reference" / "nanogpt_char.py"
    command = [python, str(script), "--nanogpt", str(nanogpt), "--text", str(TEXT.resolve()), "--output", str(out)]
    subprocess.run(command, check=True)
    return json.loads(out.read_text())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--recipes", nargs="+", default=list(RECIPES), choices=list(RECIPES))
    parser.add_argument("--max-seconds", type=float, default=None, help="wall-clock budget per training run")
    parser.add_argument("--reference-python", help="python of the reference venv (runs nanoGPT)")
    parser.add_argument("--nanogpt", type=Path, help="an unpacked nanoGPT checkout (github.com/karpathy/nanoGPT)")
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results/text_gpt.json"))
    args = parser.parse_args()
    results: dict = {"target": TARGET, "data": DATA, "model": MODEL, "versions": software_versions(),
                     "threads": torch.get_num_threads(), "runs": []}  # fmt: skip
    with tempfile.TemporaryDirectory() as root:
        if args.nanogpt:
            results["nanogpt"] = run_nanogpt(args.reference_python, args.nanogpt, Path(root) / "nanogpt.json")
        for seed in args.seeds:
            for name in args.recipes:
                run = train_recipe(name, RECIPES[name], seed, args.max_seconds, Path(root))
                results["runs"].append(run)
                print(json.dumps({key: run[key] for key in run if key not in ("spec", "validations")}, indent=2))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()

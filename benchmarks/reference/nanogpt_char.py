"""Train nanoGPT's documented CPU character model on Tiny Shakespeare and evaluate it like ours.

Runs in the reference virtual environment (torch, numpy, requests), never inside genmodels:

    .venv-reference/bin/python benchmarks/reference/nanogpt_char.py --nanogpt /tmp/nanogpt \
        --text ../shared/data/text/tinyshakespeare.txt --output nanogpt.json

It copies the corpus into nanoGPT's ``data/shakespeare_char`` (so ``prepare.py`` downloads
nothing), runs ``train.py`` with the command from nanoGPT's README ("I only have a macbook"),
times it, then computes the validation loss of the saved checkpoint over every token of
nanoGPT's validation split in consecutive 64-character windows: the protocol genmodels uses.
"""

from __future__ import annotations

import argparse
import json
import math
import pickle
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

README_COMMAND = [
    "train.py", "config/train_shakespeare_char.py", "--device=cpu", "--compile=False", "--eval_iters=20",
    "--log_interval=1", "--block_size=64", "--batch_size=12", "--n_layer=4", "--n_head=4", "--n_embd=128",
    "--max_iters=2000", "--lr_decay_iters=2000", "--dropout=0.0",
]  # fmt: skip


def full_validation_loss(nanogpt: Path, checkpoint: Path, context: int) -> dict[str, float]:
    sys.path.insert(0, str(nanogpt))
    from model import GPT, GPTConfig  # nanoGPT's own model file

    saved = torch.load(checkpoint, map_location="cpu", weights_only=True)
    model = GPT(GPTConfig(**saved["model_args"]))
    model.load_state_dict({name.removeprefix("_orig_mod."): value for name, value in saved["model"].items()})
    model.eval()
    tokens = np.fromfile(nanogpt / "data" / "shakespeare_char" / "val.bin", dtype=np.uint16).astype(np.int64)
    rows = (len(tokens) - 1) // context
    windows = torch.from_numpy(tokens[np.arange(rows)[:, None] * context + np.arange(context + 1)])
    total = 0.0
    with torch.no_grad():
        for chunk in windows.split(64):
            # given targets, nanoGPT returns the logits of every position
            logits, _ = model(chunk[:, :-1].contiguous(), chunk[:, 1:].contiguous())
            total += float(
                torch.nn.functional.cross_entropy(logits.flatten(0, 1), chunk[:, 1:].flatten(), reduction="sum")
            )
    return {"nats_per_character": total / (rows * context), "characters": rows * context, "iter": saved["iter_num"],
            "nanogpt_estimate": float(saved["best_val_loss"])}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nanogpt", type=Path, required=True, help="an unpacked nanoGPT checkout")
    parser.add_argument("--text", type=Path, required=True, help="tinyshakespeare.txt")
    parser.add_argument("--output", type=Path, required=True)
    args = parser.parse_args()
    data_dir = args.nanogpt / "data" / "shakespeare_char"
    shutil.copyfile(args.text, data_dir / "input.txt")
    subprocess.run([sys.executable, "prepare.py"], cwd=data_dir, check=True, capture_output=True)
    out_dir = args.nanogpt / "out-shakespeare-char"
    shutil.rmtree(out_dir, ignore_errors=True)
    started = time.perf_counter()
    log = subprocess.run(
        [sys.executable, *README_COMMAND], cwd=args.nanogpt, check=True, capture_output=True, text=True
    )
    seconds = time.perf_counter() - started
    last_eval = [line for line in log.stdout.splitlines() if line.startswith("step ")][-1]
    meta = pickle.loads((data_dir / "meta.pkl").read_bytes())  # written just now by prepare.py
    result = {
        "command": "python " + " ".join(README_COMMAND),
        "train_seconds": seconds,
        "last_logged_evaluation": last_eval,
        "vocab_size": meta["vocab_size"],
        "full_validation": full_validation_loss(args.nanogpt, out_dir / "ckpt.pt", context=64),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
    }
    result["full_validation"]["bits_per_character"] = result["full_validation"]["nats_per_character"] / math.log(2)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

"""Fine-tuning a saved model against training from scratch: three pairs, same architecture, steps and seeds.

    python benchmarks/transfer_learning.py --seeds 0 1 2

- images: MLP VAE trained on binarized mnist5k digits 0-4, tuned on digits 5-9 with 10% of their
  training images; quality = test NLL (importance-weighted, K=1000) on digits 5-9;
- text: character GPT trained on the first 85% of Tiny Shakespeare, tuned on its last 100,000
  characters (plays the base never saw); quality = exact test nats/char;
- molecules: CharRNN trained on the shipped MOSES training subset, tuned on a focused set (the
  shipped MOSES test and scaffold-test molecules with logP >= 3.5, none in the base's training
  data); quality = test nats/char, plus validity, novelty and the Frechet ChemNet distance of
  1,000 samples to the focused test molecules.

Both arms of a pair see the same tokenized data (the base's vocabulary, extended where the new
text has new characters), train the same number of steps with the same batches and validate at
the same steps. "Steps to target" is the first validation at which the fine-tuned model is at
least as good as the from-scratch model's best; the goal is at most a third of the steps the
from-scratch model needed to reach that best.
"""

from __future__ import annotations

import argparse
import json
import random
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch

from genmodels.applications.molecules.datasets import load_smiles
from genmodels.applications.molecules.generation import sample_strings
from genmodels.applications.molecules.metrics import frechet_chemnet_distance
from genmodels.applications.molecules.properties import molecule_properties
from genmodels.applications.molecules.smiles import canonicalize_all
from genmodels.data import DataSpec, DataSplits, load_data
from genmodels.data.text import Corpus
from genmodels.evaluation import evaluate_likelihood
from genmodels.evaluation.text import evaluate_text
from genmodels.io.versions import software_versions
from genmodels.models import build_model
from genmodels.models.base import GenerativeModel
from genmodels.runs import build_model_for, make_spec
from genmodels.training import Trainer, TrainerConfig
from genmodels.training.history import read_history
from genmodels.transfer.finetuning import adapt_to_data

QUIET = {"progress_bar": False, "tensorboard": False, "checkpoint_every": 100_000}
GPT = {"num_layers": 4, "num_heads": 4, "embedding_dim": 128, "positions": "rotary", "dropout": 0.0}
GPT_TRAINER = {
    "optimizer": "adamw", "betas": (0.9, 0.99), "weight_decay": 0.1, "batch_size": 32, "lr_schedule": "cosine",
    "min_lr_ratio": 0.1, "gradient_clip_norm": 1.0,
}  # fmt: skip
RNN = {"embedding_dim": 64, "hidden_dim": 256, "num_layers": 2, "dropout": 0.0}
RNN_TRAINER = {"batch_size": 64, "gradient_clip_norm": 5.0, "lr_schedule": "cosine", "min_lr_ratio": 0.1}


@dataclass
class Pair:
    """A base task, a target task, and how both arms train on the target."""

    name: str
    model: str
    model_config: dict[str, Any]
    base_data: dict[str, Any]
    base_trainer: dict[str, Any]
    target_data: dict[str, Any]
    target_trainer: dict[str, Any]
    scratch_lr: float
    finetune_lr: float
    monitor: str
    extras: dict[str, Any] = field(default_factory=dict)


def make_pairs(root: Path) -> list[Pair]:
    corpus = Corpus("shakespeare")
    text = "".join(corpus.chunks(0, corpus.num_characters))
    (root / "shakespeare_base.txt").write_text(text[: int(len(text) * 0.85)], encoding="utf-8")
    (root / "shakespeare_heldout.txt").write_text(text[-100_000:], encoding="utf-8")
    write_focused_molecules(root / "focused.smi")
    return [
        Pair(
            "images: VAE, mnist5k 0-4 -> 10% of 5-9", "vae", {"hidden_dim": 256, "latent_dim": 16},
            {"name": "mnist5k", "binarize": True, "classes": [0, 1, 2, 3, 4]},
            {"max_steps": 3000, "batch_size": 64, "val_every": 250},
            {"name": "mnist5k", "binarize": True, "classes": [5, 6, 7, 8, 9], "train_fraction": 0.1},
            {"max_steps": 1500, "batch_size": 64, "val_every": 25}, 1e-3, 1e-3, "negative_elbo",
        ),
        Pair(
            "text: GPT, Shakespeare 85% -> held-out 100k characters", "gpt", GPT,
            {"name": str(root / "shakespeare_base.txt"), "context_length": 64},
            {**GPT_TRAINER, "learning_rate": 3e-3, "max_steps": 1500, "warmup_steps": 50, "val_every": 250},
            {"name": str(root / "shakespeare_heldout.txt"), "context_length": 64},
            {**GPT_TRAINER, "max_steps": 600, "warmup_steps": 20, "val_every": 25}, 3e-3, 1e-3, "loss",
        ),
        Pair(
            "molecules: CharRNN, MOSES -> logP >= 3.5", "charrnn", RNN,
            {"name": "moses", "context_length": 100},
            {**RNN_TRAINER, "learning_rate": 2e-3, "max_steps": 1500, "val_every": 250},
            {"name": str(root / "focused.smi"), "context_length": 100},
            {**RNN_TRAINER, "max_steps": 600, "val_every": 25}, 2e-3, 1e-3, "loss", {"samples": 1000},
        ),
    ]  # fmt: skip


def write_focused_molecules(path: Path) -> None:
    """MOSES test and scaffold-test molecules with logP >= 3.5, shuffled (the text splits are contiguous)."""
    molecules = load_smiles("moses", split="test").smiles + load_smiles("moses", split="test_scaffolds").smiles
    focused = sorted({s for s in molecules if molecule_properties(s)["logp"] >= 3.5})
    random.Random(0).shuffle(focused)
    path.write_text("\n".join(focused) + "\n", encoding="utf-8")


def train(model: GenerativeModel, data: DataSplits, settings: dict[str, Any], seed: int, out: Path) -> dict[str, Any]:
    config = TrainerConfig(**{**settings, **QUIET, "seed": seed})
    fit = Trainer(config, out).fit(model, data.train.tensors(), data.validation.tensors())
    rows = [row for row in read_history(out / "history.csv") if row["split"] == "validation"]
    return {
        "steps": fit.steps,
        "seconds": fit.seconds,
        "best_step": fit.best_step,
        "best_value": fit.best_value,
        "curve": [(int(row["step"]), float(row["seconds"]), float(row[config.monitor])) for row in rows],
    }


def quality(model: GenerativeModel, data: DataSplits, pair: Pair, reference: dict[str, Any]) -> dict[str, float]:
    """Held-out quality: test NLL for images; test nats/char (and molecule metrics) for text."""
    model = model.eval()
    if data.tokenizer is None:
        result = evaluate_likelihood(model, data.test.images, discrete=True)["negative_log_likelihood"]
        return {"test_nll_nats": result["nats"]}
    scores = {"test_nats_per_char": evaluate_text(model, data.test, data.tokenizer)["nats_per_token"]}
    if "samples" in pair.extras:
        scores |= molecule_scores(model, pair.extras["samples"], reference)
    return scores


def molecule_scores(model: GenerativeModel, n: int, reference: dict[str, Any]) -> dict[str, float]:
    generated = canonicalize_all(sample_strings(model, n, max_length=100, seed=0))
    valid = [s for s in generated if s]
    return {
        "validity": len(valid) / n,
        "novelty": len(set(valid) - reference["train"]) / max(1, len(set(valid))),
        "fcd_to_focused_test": frechet_chemnet_distance(valid, reference["test"]) if valid else float("nan"),
    }


def run_pair(pair: Pair, seeds: list[int], root: Path) -> dict[str, Any]:
    base_spec = make_spec(pair.model, pair.base_data, pair.model_config, pair.base_trainer)
    base_data = load_data(base_spec.data)
    base = build_model_for(base_spec, base_data)
    started = time.perf_counter()
    base_fit = train(base, base_data, base_spec.trainer.to_dict(), 0, root / "base")
    base_seconds = time.perf_counter() - started
    data = load_data(DataSpec.from_dict(pair.target_data), base_tokenizer=getattr(base, "tokenizer", None))
    reference = {}
    if "samples" in pair.extras:
        reference = {"train": set(data.tokenizer.decode(data.train.tokens).split()), "test": molecule_lines(data)}
    result = {"pair": pair.name, "base": {**base_fit, "wall_seconds": base_seconds}, "target_sizes": data.info["sizes"]}
    result["base"]["target_quality"] = quality(base, data, pair, reference)
    for arm, lr in (("finetuned", pair.finetune_lr), ("scratch", pair.scratch_lr)):
        result[arm] = []
        for seed in seeds:
            torch.manual_seed(seed)
            model = adapt_to_data(base, data) if arm == "finetuned" else fresh_like(base, data)
            settings = {**pair.target_trainer, "learning_rate": lr, "monitor": pair.monitor}
            fit = train(model, data, settings, seed, root / f"{arm}-{seed}")
            result[arm].append({"seed": seed, **fit, **quality(model, data, pair, reference)})
            print(pair.name, arm, seed, {k: v for k, v in result[arm][-1].items() if k != "curve"}, flush=True)
    result["steps_to_target"] = steps_to_target(result["finetuned"], result["scratch"])
    return result


def molecule_lines(data: DataSplits) -> list[str]:
    text = data.tokenizer.decode(data.test.tokens)
    return [s for s in canonicalize_all(text.split()[1:-1]) if s]  # the ends may be cut mid-line


def fresh_like(base: GenerativeModel, data: DataSplits) -> GenerativeModel:
    """The base's architecture for this data, freshly initialised (the seed is set by the caller)."""
    values = {**base.config.to_dict(), "data_shape": data.data_shape}
    if data.tokenizer is not None:
        values["vocab_size"] = data.tokenizer.vocab_size
    model = build_model(base.model_type, **values)
    model.tokenizer = data.tokenizer
    return model


def steps_to_target(finetuned: list[dict], scratch: list[dict]) -> list[dict[str, Any]]:
    """Per seed: the scratch run's best value, the step it took, and the fine-tuned run's first step at it."""
    rows = []
    for tuned, fresh in zip(finetuned, scratch, strict=True):
        target, scratch_step = fresh["best_value"], fresh["best_step"]
        reached = [(step, seconds) for step, seconds, value in tuned["curve"] if value <= target]
        step, seconds = reached[0] if reached else (None, None)
        rows.append({
            "seed": tuned["seed"], "target": target, "scratch_steps": scratch_step,
            "scratch_seconds": next(s for st, s, _ in fresh["curve"] if st == scratch_step),
            "finetuned_steps": step, "finetuned_seconds": seconds,
            "fraction": step / scratch_step if step is not None else None,
        })  # fmt: skip
    return rows


def plot(results: list[dict[str, Any]], path: Path) -> None:
    figure, axes = plt.subplots(1, len(results), figsize=(5 * len(results), 3.6))
    for axis, result in zip(np.atleast_1d(axes), results, strict=True):
        for arm, colour in (("finetuned", "tab:blue"), ("scratch", "tab:orange")):
            for index, run in enumerate(result[arm]):
                steps, _, values = zip(*run["curve"], strict=True)
                axis.plot(steps, values, color=colour, alpha=0.8, label=arm if index == 0 else None)
        axis.set_title(result["pair"], fontsize=9)
        axis.set_xlabel("step")
        axis.set_ylabel("validation " + ("negative ELBO" if result["pair"].startswith("images") else "nats/char"))
        low = min(v for arm in ("finetuned", "scratch") for run in result[arm] for _, _, v in run["curve"])
        high = max(run["curve"][0][2] for run in result["finetuned"]) * 1.5 if low > 0 else None
        axis.set_ylim(low * 0.97, high)
        axis.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--pairs", nargs="+", choices=["images", "text", "molecules"])
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results/transfer_learning.json"))
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory() as directory:
        root = Path(directory)
        for pair in make_pairs(root):
            if args.pairs is None or pair.name.split(":")[0] in args.pairs:
                results.append(run_pair(pair, args.seeds, root / pair.name.split(":")[0]))
    record = {"versions": software_versions(), "threads": torch.get_num_threads(), "seeds": args.seeds}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({**record, "results": results}, indent=2) + "\n")
    plot(results, args.output.with_suffix(".png"))


if __name__ == "__main__":
    main()

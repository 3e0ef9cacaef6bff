"""A molecule generator trained on MOSES under a CPU budget: 30,000 molecules, the full MOSES table, QED design.

    OMP_NUM_THREADS=1 python benchmarks/moses_generators.py --model charrnn --moses ../shared/data/moses --minutes 20
    OMP_NUM_THREADS=1 python benchmarks/moses_generators.py --model smiles-vae --moses ../shared/data/moses --minutes 20
    python benchmarks/moses_generators.py --model charrnn --moses ../shared/data/moses --minutes 100 \
        --hidden-dim 512 --precision bf16-mixed --output benchmarks/results/moses_charrnn_2x512.json
    python benchmarks/moses_generators.py --model charrnn --moses ../shared/data/moses --representation selfies \
        --steps 12797

The corpus is the MOSES training set (1,584,663 SMILES, one per line, as distributed; with
``--representation selfies``, each written as SELFIES and tokenised by symbol). The model trains
for the stated wall-clock budget (or ``--steps``, which machine load cannot change), generates
30,000 molecules (temperature 1; the VAE decodes codes drawn from its prior), and the metrics are
computed against the full MOSES test and scaffold-test sets (or, with ``--reference-size``, a
seeded subsample of each: 20,000 by default, for time) and the full training set (novelty), as in
Polykovskiy et al. (2020), Table 2.
Then it designs for QED by its own route (hill-climbing for the CharRNN, latent-space gradient
ascent for the VAE) and reports the best novel molecules beside the best of the known ones.
"""

from __future__ import annotations

import argparse
import gzip
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from genmodels.applications.molecules.datasets import load_smiles
from genmodels.applications.molecules.generation import hill_climb, sample_smiles
from genmodels.applications.molecules.latent_optimization import optimize_latent
from genmodels.applications.molecules.metrics import moses_metrics
from genmodels.applications.molecules.objectives import make_objective
from genmodels.applications.molecules.smiles import parallel_map, to_selfies
from genmodels.io.versions import software_versions
from genmodels.runs import make_spec, train_run

SETTINGS = {
    "charrnn": {
        "model": {"embedding_dim": 64, "hidden_dim": 256, "num_layers": 2, "dropout": 0.0},
        "trainer": {"batch_size": 64, "learning_rate": 3e-3, "lr_schedule": "cosine", "min_lr_ratio": 0.1,
                    "warmup_steps": 100, "gradient_clip_norm": 5.0, "val_every": 1000, "checkpoint_every": 1000},
        "data": {"context_length": 100, "validation_fraction": 0.01, "test_fraction": 0.01},
    },
    "smiles-vae": {
        "model": {"embedding_dim": 64, "encoder_dim": 256, "decoder_dim": 256, "decoder_layers": 2,
                  "latent_dim": 64, "beta": 0.05, "kl_warmup_steps": 1000},
        "trainer": {"batch_size": 128, "learning_rate": 2e-3, "lr_schedule": "cosine", "min_lr_ratio": 0.1,
                    "warmup_steps": 100, "gradient_clip_norm": 50.0, "val_every": 1000, "checkpoint_every": 1000},
        "data": {"line_rows": True, "context_length": 58, "validation_fraction": 0.002, "test_fraction": 0.002},
    },
}  # fmt: skip
PUBLISHED = {  # Polykovskiy et al. (2020), Table 2 (means over three runs)
    "CharRNN": {"valid": 0.975, "unique@10000": 0.999, "Novelty": 0.842, "FCD/Test": 0.073},
    "VAE": {"valid": 0.977, "unique@10000": 0.998, "Novelty": 0.695, "FCD/Test": 0.099},
    "JTN-VAE": {"valid": 1.0, "unique@10000": 0.999, "Novelty": 0.914, "FCD/Test": 0.395},
}
DESIGN_OBJECTIVE = "qed"
DESIGN_KNOWN = 5000


def design(model, train: list[str], seed: int) -> dict:
    """Each family's route towards high QED: the top novel molecules against the best of ``DESIGN_KNOWN`` known ones."""
    score = make_objective(DESIGN_OBJECTIVE)
    known = train[:DESIGN_KNOWN]
    started = time.perf_counter()
    if model.model_type == "smiles-vae":
        result = optimize_latent(model, score, known, starts=100, steps=100, seed=seed)
    else:
        result = hill_climb(model, score, rounds=5, samples_per_round=1000, keep=100, steps_per_round=100, seed=seed)
    training = set(train)
    novel = [(smiles, value) for smiles, value in result.top if smiles not in training]
    return {
        "objective": DESIGN_OBJECTIVE,
        "seconds": time.perf_counter() - started,
        "best_known": max(value for value in map(score, known) if value is not None),
        "top10_novel": novel[:10],
        "top10_novel_mean": float(np.mean([value for _, value in novel[:10]])) if novel else None,
        "novel_fraction_of_top": len(novel) / len(result.top) if result.top else None,
        "summary": result.summary,
        "history": result.history,
    }


def subsample(smiles: list[str], size: int) -> list[str]:
    """A seeded subsample (the same for every model), or all of them when ``size`` is 0 or larger."""
    if not size or size >= len(smiles):
        return smiles
    return [smiles[index] for index in np.sort(np.random.default_rng(0).choice(len(smiles), size, replace=False))]


def sized(settings: dict, args: argparse.Namespace) -> dict:
    """The model's settings with the command line's width, depth and learning rate where given."""
    width, depth = ("hidden_dim", "num_layers") if args.model == "charrnn" else ("decoder_dim", "decoder_layers")
    overrides = {width: args.hidden_dim, depth: args.layers}
    model = {**settings["model"], **{key: value for key, value in overrides.items() if value is not None}}
    trainer = {**settings["trainer"], **({"learning_rate": args.learning_rate} if args.learning_rate else {})}
    return {**settings, "model": model, "trainer": trainer}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=sorted(SETTINGS), required=True)
    parser.add_argument("--moses", type=Path, required=True, help="directory with train/test/test_scaffolds.csv.gz")
    parser.add_argument("--minutes", type=float, default=30.0, help="training budget (wall clock)")
    parser.add_argument("--steps", type=int, help="training budget in steps instead of minutes (load-independent)")
    parser.add_argument("--representation", choices=("smiles", "selfies"), default="smiles",
                        help="selfies: train on SELFIES, one token per symbol")  # fmt: skip
    parser.add_argument("--samples", type=int, default=30000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--design", action=argparse.BooleanOptionalAction, default=True, help="also design for QED")
    parser.add_argument("--reference-size", type=int, default=20000,
                        help="seeded subsample of each test set for reference metrics; 0: the full sets")  # fmt: skip
    parser.add_argument("--hidden-dim", type=int, help="recurrent width (CharRNN hidden_dim, VAE decoder_dim)")
    parser.add_argument("--layers", type=int, help="recurrent layers (CharRNN num_layers, VAE decoder_layers)")
    parser.add_argument("--learning-rate", type=float)
    parser.add_argument("--precision", default="32-true",
                        help="Fabric precision; bf16-mixed: the LSTM ~1.4x faster on AVX512-BF16 CPUs")  # fmt: skip
    parser.add_argument("--output", type=Path, help="JSON [default: benchmarks/results/moses_<model>.json]")
    parser.add_argument("--keep-model", type=Path, help="also save the trained model here (to sample it again)")
    args = parser.parse_args()
    settings = sized(SETTINGS[args.model], args)
    suffix = "" if args.representation == "smiles" else f"_{args.representation}"
    output = args.output or Path(f"benchmarks/results/moses_{args.model}{suffix}.json")
    with tempfile.TemporaryDirectory() as root:
        corpus = Path(root) / "moses_train.smi"
        with gzip.open(args.moses / "train.csv.gz", "rt") as source:
            lines = [line.strip() for number, line in enumerate(source) if number]
        selfies = args.representation == "selfies"
        if selfies:
            lines = parallel_map(to_selfies, lines)
        corpus.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
        data = {"name": str(corpus), **settings["data"], "tokenizer": "selfies" if selfies else None}
        budget = {"max_steps": args.steps, "max_seconds": None} if args.steps else {
            "max_steps": 1_000_000, "max_seconds": args.minutes * 60}  # fmt: skip
        trainer = {**settings["trainer"], **budget, "seed": args.seed, "precision": args.precision,
                   "progress_bar": False, "tensorboard": False}  # fmt: skip
        spec = make_spec(args.model, data, settings["model"], trainer)
        outcome = train_run(spec, Path(root) / "run")
        if args.keep_model:
            outcome.model.save_pretrained(args.keep_model)
        started = time.perf_counter()
        generated = sample_smiles(outcome.model, args.samples, max_length=150, seed=args.seed)
        sampling_seconds = time.perf_counter() - started
    train = load_smiles(args.moses, split="train").smiles
    started = time.perf_counter()
    test, test_scaffolds = (subsample(load_smiles(args.moses, split=split).smiles, args.reference_size)
                            for split in ("test", "test_scaffolds"))  # fmt: skip
    metrics = moses_metrics(generated, train=train, test=test, test_scaffolds=test_scaffolds)
    metrics_seconds = time.perf_counter() - started
    result = {
        "spec": spec.to_dict(),
        "steps": outcome.fit.steps,
        "train_seconds": outcome.fit.seconds,
        "train_examples_per_second": outcome.fit.examples_per_second,
        "held_out": outcome.report["test"],
        "sampling_seconds": sampling_seconds,
        "metrics_seconds": metrics_seconds,
        "metrics": metrics,
        "published": PUBLISHED,
        "examples": generated[:20],
        "design": design(outcome.model, train, args.seed) if args.design else None,
        "versions": software_versions(),
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({key: result[key] for key in ("steps", "train_seconds", "metrics")}, indent=2))
    if args.design:
        print(json.dumps({key: value for key, value in result["design"].items() if key != "history"}, indent=2))


if __name__ == "__main__":
    main()

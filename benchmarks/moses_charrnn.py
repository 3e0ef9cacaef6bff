"""CharRNN on the MOSES training set under a CPU budget, 30,000 molecules, the full MOSES metrics table.

    python benchmarks/moses_charrnn.py --moses ../shared/data/moses --minutes 20

The corpus is the MOSES training set (1,584,663 SMILES, one per line, as distributed); the model
trains for the stated wall-clock budget, then generates 30,000 molecules (temperature 1), and the
metrics are computed against the full MOSES test and scaffold-test sets and the full training set
(novelty), as in Polykovskiy et al. (2020), Table 2.
"""

from __future__ import annotations

import argparse
import gzip
import json
import tempfile
import time
from pathlib import Path

from genmodels.applications.molecules.datasets import load_smiles
from genmodels.applications.molecules.generation import sample_strings
from genmodels.applications.molecules.metrics import moses_metrics
from genmodels.runs import make_spec, train_run
from genmodels.versions import software_versions

MODEL = {"embedding_dim": 64, "hidden_dim": 256, "num_layers": 2, "dropout": 0.0}
TRAINER = {"batch_size": 64, "learning_rate": 3e-3, "lr_schedule": "cosine", "min_lr_ratio": 0.1,
           "warmup_steps": 100, "gradient_clip_norm": 5.0, "val_every": 1000, "checkpoint_every": 1000}  # fmt: skip
PUBLISHED = {  # Polykovskiy et al. (2020), Table 2 (means over three runs)
    "CharRNN": {"valid": 0.975, "unique@10000": 0.999, "Novelty": 0.842, "FCD/Test": 0.073},
    "VAE": {"valid": 0.977, "unique@10000": 0.998, "Novelty": 0.695, "FCD/Test": 0.099},
    "JTN-VAE": {"valid": 1.0, "unique@10000": 0.999, "Novelty": 0.914, "FCD/Test": 0.395},
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moses", type=Path, required=True, help="directory with train/test/test_scaffolds.csv.gz")
    parser.add_argument("--minutes", type=float, default=20.0, help="training budget (wall clock)")
    parser.add_argument("--samples", type=int, default=30000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results/moses_charrnn.json"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as root:
        corpus = Path(root) / "moses_train.smi"
        with gzip.open(args.moses / "train.csv.gz", "rt") as source:
            corpus.write_text("".join(line for number, line in enumerate(source) if number), encoding="utf-8")
        trainer = {**TRAINER, "max_steps": 1_000_000, "max_seconds": args.minutes * 60, "seed": args.seed,
                   "progress_bar": False, "tensorboard": False}  # fmt: skip
        data = {"name": str(corpus), "context_length": 100, "validation_fraction": 0.01, "test_fraction": 0.01}
        spec = make_spec("charrnn", data, MODEL, trainer)
        outcome = train_run(spec, Path(root) / "run")
        started = time.perf_counter()
        generated = sample_strings(outcome.model, args.samples, max_length=150, seed=args.seed)
        sampling_seconds = time.perf_counter() - started
    started = time.perf_counter()
    metrics = moses_metrics(
        generated,
        train=load_smiles(args.moses, split="train").smiles,
        test=load_smiles(args.moses, split="test").smiles,
        test_scaffolds=load_smiles(args.moses, split="test_scaffolds").smiles,
    )
    result = {
        "spec": spec.to_dict(),
        "steps": outcome.fit.steps,
        "train_seconds": outcome.fit.seconds,
        "train_characters_per_second": outcome.fit.examples_per_second * data["context_length"],
        "test_nats_per_character": outcome.report["test"]["text"]["nats_per_token"],
        "sampling_seconds": sampling_seconds,
        "metrics_seconds": time.perf_counter() - started,
        "metrics": metrics,
        "published": PUBLISHED,
        "examples": generated[:20],
        "versions": software_versions(),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({key: result[key] for key in ("steps", "train_seconds", "metrics")}, indent=2))


if __name__ == "__main__":
    main()

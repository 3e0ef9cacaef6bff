"""Train the MLP VAE on binarized mnist5k to convergence; report test negative ELBO and throughput.

Convergence is decided by early stopping on the validation negative ELBO; the reported model is the
one with the best validation value. Throughput is training examples per second, validation and
checkpointing included, on this machine's CPU threads.

    python benchmarks/vae_mnist5k.py --output benchmarks/results/vae_mnist5k.json
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
from pathlib import Path

import torch

from genmodels.runs import make_spec, train_run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results/vae_mnist5k.json"))
    parser.add_argument("--latent-dim", type=int, default=2)
    parser.add_argument("--max-steps", type=int, default=30000)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    arguments = parser.parse_args()

    results = []
    for seed in arguments.seeds:
        spec = make_spec(
            "vae",
            {"name": "mnist5k", "binarize": True},
            {"latent_dim": arguments.latent_dim},
            {
                "max_steps": arguments.max_steps,
                "batch_size": 100,
                "learning_rate": 1e-3,
                "val_every": 250,
                "checkpoint_every": 2500,
                "early_stopping_patience": 12,
                "seed": seed,
                "progress_bar": False,
                "tensorboard": False,
            },
        )
        with tempfile.TemporaryDirectory() as run_dir:
            outcome = train_run(spec, Path(run_dir) / "run")
        assert outcome is not None
        likelihood = outcome.report["test"]["likelihood"]
        results.append(
            {
                "seed": seed,
                "steps": outcome.fit.steps,
                "best_step": outcome.fit.best_step,
                "validation_negative_elbo": outcome.fit.best_value,
                "test_negative_elbo_nats": likelihood["negative_elbo"]["nats"],
                "test_bits_per_dim": likelihood["negative_elbo"]["bits_per_dim"],
                "test_nll_nats": likelihood["negative_log_likelihood"]["nats"],
                "importance_samples": likelihood["negative_log_likelihood"]["importance_samples"],
                "examples_per_second": outcome.fit.examples_per_second,
                "train_seconds": outcome.fit.seconds,
            }
        )
        print(json.dumps(results[-1]))

    summary = {
        "benchmark": "MLP VAE on binarized mnist5k (4000 train / 500 validation / 500 test)",
        "command": "python " + " ".join(sys.argv),
        "spec_of_last_seed": spec.to_dict(),
        "results": results,
        "mean_test_negative_elbo_nats": sum(r["test_negative_elbo_nats"] for r in results) / len(results),
        "mean_examples_per_second": sum(r["examples_per_second"] for r in results) / len(results),
        "machine": {"cpu_threads": torch.get_num_threads(), "platform": platform.platform()},
        "versions": outcome.report["versions"],
    }
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    arguments.output.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps({k: summary[k] for k in ("mean_test_negative_elbo_nats", "mean_examples_per_second")}))


if __name__ == "__main__":
    main()

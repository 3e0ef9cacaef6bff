"""VAE family on binarized mnist5k and digits at fixed budgets, beside a pythae reference run.

For each data set: the MLP VAE, the convolutional VAE and the MLP VAE trained with the IWAE
objective (K=5), all with latent size 20, batch 100, Adam 1e-3 and the same number of steps; the
reported model is the best on validation (checked once per epoch, as pythae does). Reports test
NLL (IWAE estimate, K=1000), test negative ELBO, active units on the test set, and wall times.
With ``--reference-python``, the same MLP VAE is also trained by the pythae package (in its own
environment, see benchmarks/reference/pythae_vae.py) on exactly the same split and epochs; this
pair runs once per seed in ``--seeds``, the other variants on the first seed.

    python benchmarks/vae_family.py --reference-python .venv-reference/bin/python
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from genmodels.data import DataSpec, load_data
from genmodels.io.versions import software_versions
from genmodels.runs import make_spec, train_run

BUDGETS = {"mnist5k": 3000, "digits": 2000}
BATCH_SIZE = 100
PAIRED = "MLP VAE (ELBO)"
VARIANTS = {
    "MLP VAE (ELBO)": ("vae", {}),
    "conv VAE (ELBO)": ("conv-vae", {"channels": [32, 64], "hidden_dim": 256}),
    "MLP VAE (IWAE, K=5)": ("vae", {"objective": "iwae", "train_importance_samples": 5}),
}
REFERENCE_SCRIPT = Path(__file__).parent / "reference" / "pythae_vae.py"


def run_variant(data_name: str, model: str, model_config: dict, latent_dim: int, seed: int) -> dict:
    epoch_steps = math.ceil(len(load_data(DataSpec(data_name, binarize=True)).train) / BATCH_SIZE)
    spec = make_spec(
        model,
        {"name": data_name, "binarize": True},
        {"latent_dim": latent_dim, **model_config},
        {
            "max_steps": BUDGETS[data_name],
            "batch_size": BATCH_SIZE,
            "learning_rate": 1e-3,
            "val_every": epoch_steps,
            "checkpoint_every": BUDGETS[data_name],
            "seed": seed,
            "progress_bar": False,
            "tensorboard": False,
        },
    )
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as run_dir:
        outcome = train_run(spec, Path(run_dir) / "run")
    assert outcome is not None
    total_seconds = time.perf_counter() - started
    likelihood = outcome.report["test"]["likelihood"]
    test = outcome.data.test.tensors()
    return {
        "seed": seed,
        "model": model,
        "model_config": outcome.model.config.to_dict(),
        "steps": outcome.fit.steps,
        "best_step": outcome.fit.best_step,
        "test_nll_nats": likelihood["negative_log_likelihood"]["nats"],
        "importance_samples": likelihood["negative_log_likelihood"]["importance_samples"],
        "test_negative_elbo_nats": likelihood["negative_elbo"]["nats"],
        "test_active_units": outcome.model.diagnostics(test)["active_units"],
        "train_seconds": outcome.fit.seconds,
        "total_seconds": total_seconds,
    }


def run_reference(python: str, data_name: str, latent_dim: int, seed: int) -> dict:
    data = load_data(DataSpec(data_name, binarize=True))
    epochs = round(BUDGETS[data_name] * BATCH_SIZE / len(data.train))
    with tempfile.TemporaryDirectory() as export:
        for name in ("train", "validation", "test"):
            np.save(Path(export) / f"{name}.npy", getattr(data, name).images.numpy())
        command = [python, str(REFERENCE_SCRIPT), export, "--latent-dim", str(latent_dim), "--epochs", str(epochs)]
        command += ["--seed", str(seed)]
        completed = subprocess.run(command, capture_output=True, text=True, check=True)
    return {"seed": seed, **json.loads(completed.stdout.strip().splitlines()[-1])}


def mean_and_sd(runs: list[dict], key: str) -> dict[str, float]:
    values = [run[key] for run in runs]
    return {"mean": statistics.mean(values), "sd": statistics.stdev(values) if len(values) > 1 else 0.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results/vae_family.json"))
    parser.add_argument("--reference-python", help="Python of the reference environment (pythae installed)")
    parser.add_argument("--data", nargs="+", default=list(BUDGETS))
    parser.add_argument("--latent-dim", type=int, default=20)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    arguments = parser.parse_args()

    results: dict[str, dict[str, list[dict]]] = {}
    for data_name in arguments.data:
        results[data_name] = {}
        for label, (model, model_config) in VARIANTS.items():
            seeds = arguments.seeds if label == PAIRED else arguments.seeds[:1]
            for seed in seeds:
                result = run_variant(data_name, model, model_config, arguments.latent_dim, seed)
                results[data_name].setdefault(label, []).append(result)
                print(data_name, label, json.dumps(result), flush=True)
        if arguments.reference_python:
            for seed in arguments.seeds:
                reference = run_reference(arguments.reference_python, data_name, arguments.latent_dim, seed)
                results[data_name].setdefault("pythae VAE (reference)", []).append(reference)
                print(data_name, "pythae", json.dumps(reference), flush=True)
    summary = {
        "command": "python " + " ".join(sys.argv),
        "budgets_steps": BUDGETS,
        "seeds": arguments.seeds,
        "results": results,
        "summary": {
            data_name: {
                label: {key: mean_and_sd(runs, key) for key in ("test_nll_nats", "train_seconds")}
                for label, runs in by_label.items()
            }
            for data_name, by_label in results.items()
        },
        "versions": software_versions(),
        "cpu_threads": torch.get_num_threads(),
    }
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    arguments.output.write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()

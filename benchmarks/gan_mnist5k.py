"""GANs on mnist5k at a fixed wall-clock budget, judged by offline sample-quality metrics; modes on grid25.

Each image model trains for ``--seconds`` of wall clock on the grey-level mnist5k training split
(the conv VAE on the binarized one, as in the VAE benchmarks), then draws 1,000 samples (as many
as the held-out real images) and is compared with the 4,000 training images in the mnist5k feature
network: fd_mnist5k, precision, recall (k=5), density, coverage, classes produced. The floor is the
real held-out images against the same training images. On the 25-Gaussian grid, the MLP GAN with
the non-saturating loss and with a Wasserstein loss + gradient penalty draw 2,500 samples each.

    python benchmarks/gan_mnist5k.py --seconds 120
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import torch

from genmodels.data import DataSpec, load_data
from genmodels.evaluation.generated import evaluate_modes, evaluate_samples, real_data_floor
from genmodels.io.versions import software_versions
from genmodels.runs import make_spec, train_run

IMAGE_MODELS = {
    "MLP GAN": ("gan", {}, {"batch_size": 64}),
    "DCGAN": ("dcgan", {"generator_channels": 32, "discriminator_channels": 32}, {"batch_size": 64}),
    "WGAN-GP": ("wgan-gp", {"generator_channels": 32, "discriminator_channels": 32}, {"batch_size": 64}),
    "conv VAE (binarized)": ("conv-vae", {"latent_dim": 20}, {"batch_size": 100, "learning_rate": 1e-3}),
}
GRID_MODELS = {
    "MLP GAN": ("gan", {"generator_hidden_dim": 256, "discriminator_hidden_dim": 256, "latent_dim": 2}),
    "MLP WGAN-GP": (
        "gan",
        {
            "generator_hidden_dim": 256,
            "discriminator_hidden_dim": 256,
            "latent_dim": 2,
            "loss": "wasserstein",
            "gradient_penalty": 0.1,
            "discriminator_steps": 5,
        },
    ),
}


def train(model: str, data: dict, model_config: dict, trainer: dict, seconds: float, seed: int):
    settings = {
        "max_steps": 10**7,
        "max_seconds": seconds,
        "val_every": 500,
        "checkpoint_every": 10**7,
        "seed": seed,
        "progress_bar": False,
        "tensorboard": False,
        **trainer,
    }
    spec = make_spec(model, data, model_config, settings)
    with tempfile.TemporaryDirectory() as run_dir:
        outcome = train_run(spec, Path(run_dir) / "run")
    assert outcome is not None
    training = {
        "model": model,
        "model_config": outcome.model.config.to_dict(),
        "trainer": spec.trainer.to_dict(),
        "steps": outcome.fit.steps,
        "train_seconds": outcome.fit.seconds,
        "images_per_second": outcome.fit.examples_per_second,
        "warnings": outcome.fit.warnings,
    }
    return outcome, training


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results/gan_mnist5k.json"))
    parser.add_argument("--seconds", type=float, default=120.0, help="wall-clock training budget per image model")
    parser.add_argument("--grid-seconds", type=float, default=60.0, help="budget per model on grid25")
    parser.add_argument("--seed", type=int, default=0)
    arguments = parser.parse_args()

    grey = load_data(DataSpec("mnist5k"))
    results: dict = {"floor (real held-out vs train)": real_data_floor(grey)}
    print("floor", json.dumps(results["floor (real held-out vs train)"]), flush=True)
    for label, (model, model_config, trainer) in IMAGE_MODELS.items():
        binarize = model.endswith("vae")
        outcome, training = train(
            model, {"name": "mnist5k", "binarize": binarize}, model_config, trainer, arguments.seconds, arguments.seed
        )
        # every model is compared with the same grey-level training images
        quality = evaluate_samples(outcome.model, grey, seed=arguments.seed)
        results[label] = {**training, "sample_quality": quality}
        print(label, json.dumps(results[label]), flush=True)

    grid: dict = {}
    for label, (model, model_config) in GRID_MODELS.items():
        outcome, training = train(
            model, {"name": "grid25"}, model_config, {"batch_size": 256}, arguments.grid_seconds, arguments.seed
        )
        grid[label] = {**training, "modes": evaluate_modes(outcome.model, "grid25", seed=arguments.seed)}
        print("grid25", label, json.dumps(grid[label]), flush=True)

    summary = {
        "command": "python " + " ".join(sys.argv),
        "seed": arguments.seed,
        "mnist5k": results,
        "grid25": grid,
        "data": grey.info,
        "versions": software_versions(),
        "cpu_threads": torch.get_num_threads(),
    }
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    arguments.output.write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()

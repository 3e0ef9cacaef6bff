"""Exact test NLL of MADE and Gated PixelCNN on binarized mnist5k, beside the VAEs' importance-weighted NLL.

    python benchmarks/autoregressive_images.py --seconds 300

Same data and split as the VAE benchmarks (statically binarized, 4,000 / 500 / 500). Each model
trains for at most ``--seconds`` of wall clock, validating every 100 steps; the best-validation
weights are evaluated. NLL is exact for these models (the sum of every pixel's conditional), in
nats per image and bits per dimension. Sampling time is for 64 images, one network pass per pixel.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from genmodels.data import DataSpec, load_data
from genmodels.evaluation import evaluate_likelihood
from genmodels.io.versions import software_versions
from genmodels.models import build_model
from genmodels.training import Trainer, TrainerConfig

MODELS = {
    "MADE, 1 mask": ("made", {"hidden_sizes": [500]}, {"batch_size": 100, "learning_rate": 1e-3}),
    "MADE, 8 masks, ensemble of 8": (
        "made",
        {"hidden_sizes": [500], "num_masks": 8, "ensemble_masks": 8},
        {"batch_size": 100, "learning_rate": 1e-3},
    ),
    "Gated PixelCNN": (
        "pixelcnn",
        {"channels": 32, "num_layers": 6, "output_channels": 64},
        {"batch_size": 32, "learning_rate": 1e-3},
    ),
}
VAE_RESULTS = Path(__file__).parent / "results" / "vae_family.json"


def run(name: str, seconds: float, seed: int, root: Path) -> dict:
    """Train on the training split with best-validation restore, then the exact test NLL and sampling time."""
    model_name, model_config, trainer = MODELS[name]
    data = load_data(DataSpec("mnist5k", binarize=True))
    config = TrainerConfig(**trainer, max_steps=1_000_000, max_seconds=seconds, val_every=100, seed=seed,
                           checkpoint_every=1000, progress_bar=False, tensorboard=False)  # fmt: skip
    torch.manual_seed(seed)
    model = build_model(model_name, data_shape=data.data_shape, **model_config)
    fit = Trainer(config, root / name.replace(" ", "-")).fit(model, data.train.tensors(), data.validation.tensors())
    likelihood = evaluate_likelihood(model.eval(), data.test.images, discrete=True)["negative_log_likelihood"]
    started = time.perf_counter()
    model.sample(64, generator=torch.Generator().manual_seed(0))
    return {
        "model": name,
        "seed": seed,
        "model_type": model_name,
        "model_config": model_config,
        "trainer": config.to_dict(),
        "parameters": sum(p.numel() for p in model.parameters()),
        "steps": fit.steps,
        "best_step": fit.best_step,
        "train_seconds": fit.seconds,
        "train_images_per_second": fit.examples_per_second,
        "test_nll_nats": likelihood["nats"],
        "test_bits_per_dim": likelihood["bits_per_dim"],
        "sample_64_seconds": time.perf_counter() - started,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results/autoregressive_images.json"))
    args = parser.parse_args()
    results = {"seconds": args.seconds, "versions": software_versions(), "threads": torch.get_num_threads(), "runs": []}
    if VAE_RESULTS.is_file():
        results["vae_family_summary"] = json.loads(VAE_RESULTS.read_text())["summary"]
    with tempfile.TemporaryDirectory() as root:
        for name in args.models:
            results["runs"].append(run(name, args.seconds, args.seed, Path(root)))
            print(json.dumps({k: v for k, v in results["runs"][-1].items() if k != "trainer"}, indent=2))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()

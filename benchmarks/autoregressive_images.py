"""Test NLL of MADE, Gated PixelCNN and a multi-scale flow on mnist5k, binarized or as 8-bit grey levels.

    python benchmarks/autoregressive_images.py --seconds 300
    python benchmarks/autoregressive_images.py --pixels 8bit --seconds 300 --output benchmarks/results/images_8bit.json

Same data and split as the VAE benchmarks (4,000 / 500 / 500), statically binarized (beside the
VAEs' importance-weighted NLL) or kept as 256 grey levels. Each model trains for at most
``--seconds`` of wall clock, validating every 100 steps; the best-validation weights are evaluated.
NLL is exact for the autoregressive models (the sum of every pixel's conditional); the flow's is
its bound on dequantized pixels (one uniform draw per image), both in nats per image and bits per
dimension. Sampling time is for 64 images: one network pass per pixel for the autoregressive
models, one pass for the flow.
"""

from __future__ import annotations

import argparse
import json
import os
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
MODELS_8BIT = {
    "Gated PixelCNN, 256 levels": (
        "pixelcnn",
        {"channels": 32, "num_layers": 6, "output_channels": 64, "pixel_levels": 256},
        {"batch_size": 32, "learning_rate": 1e-3},
    ),
    "Glow image flow, 2 levels x 8 steps": (
        "image-flow",
        {"levels": 2, "blocks": 8, "hidden_channels": 64},
        {"batch_size": 64, "learning_rate": 1e-3, "gradient_clip_norm": 100.0},
    ),
}
PIXELS = {"binary": MODELS, "8bit": MODELS_8BIT}
VAE_RESULTS = Path(__file__).parent / "results" / "vae_family.json"


def run(name: str, pixels: str, seconds: float, seed: int, root: Path) -> dict:
    """Train on the training split with best-validation restore, then the test NLL and sampling time."""
    model_name, model_config, trainer = PIXELS[pixels][name]
    data = load_data(DataSpec("mnist5k", binarize=pixels == "binary"))
    config = TrainerConfig(**trainer, max_steps=1_000_000, max_seconds=seconds, val_every=100, seed=seed,
                           checkpoint_every=1000, progress_bar=False, tensorboard=False)  # fmt: skip
    torch.manual_seed(seed)
    model = build_model(model_name, data_shape=data.data_shape, **model_config)
    fit = Trainer(config, root / name.replace(" ", "-")).fit(model, data.train.tensors(), data.validation.tensors())
    evaluated = evaluate_likelihood(model.eval(), data.test.images, discrete=True)
    likelihood = evaluated.get("negative_log_likelihood") or evaluated["negative_elbo"]  # the flow's is a bound
    load_average = os.getloadavg()[0]
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
        "estimator": likelihood["estimator"],
        "test_bits_per_dim": likelihood["bits_per_dim"],
        "sample_64_seconds": time.perf_counter() - started,
        "load_average_after_training": load_average,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=300.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--pixels", choices=list(PIXELS), default="binary")
    parser.add_argument("--models", nargs="+", help="Names from the chosen pixel set (default: all of them).")
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results/autoregressive_images.json"))
    args = parser.parse_args()
    models = args.models or list(PIXELS[args.pixels])
    unknown = sorted(set(models) - set(PIXELS[args.pixels]))
    if unknown:
        parser.error(f"unknown models for --pixels {args.pixels}: {unknown}; choose from {list(PIXELS[args.pixels])}")
    results = {
        "pixels": args.pixels,
        "seconds": args.seconds,
        "versions": software_versions(),
        "threads": torch.get_num_threads(),
        "runs": [],
    }
    if VAE_RESULTS.is_file():
        results["vae_family_summary"] = json.loads(VAE_RESULTS.read_text())["summary"]
    with tempfile.TemporaryDirectory() as root:
        for name in models:
            results["runs"].append(run(name, args.pixels, args.seconds, args.seed, Path(root)))
            print(json.dumps({k: v for k, v in results["runs"][-1].items() if k != "trainer"}, indent=2))
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()

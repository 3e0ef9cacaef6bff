"""PixelCNN sampling: the cached row-by-row sampler against running the full network for every pixel.

    python benchmarks/pixelcnn_sampling.py --output benchmarks/results/pixelcnn_sampling.json

The reference draws each pixel from the full network's logits over the rows up to it (the sampler
genmodels shipped before); the cached sampler computes what the rows above contribute once per row
and each pixel's horizontal stacks over its row's left part only. Both draw from the same
generator, so with equal logits they give the same images, which the script checks. Untrained
weights: the cost of a pass does not depend on them.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch

from genmodels.io.versions import software_versions
from genmodels.models import PixelCNN, PixelCNNConfig
from genmodels.models.autoregressive.pixels import sample_pixels

CONFIGS = {
    "benchmark PixelCNN (6 x 32 channels), binary": {"channels": 32, "num_layers": 6, "output_channels": 64},
}
"""The configuration of the autoregressive-images benchmark, whose 64 samples took 56 s there."""


def full_network_sample(model: PixelCNN, n: int, generator: torch.Generator) -> torch.Tensor:
    """One pass of the whole network over the rows so far for every pixel, in raster order."""
    _, height, width = model.config.data_shape
    x = torch.zeros(n, 1, height, width)
    for row in range(height):
        for column in range(width):
            logits = model.logits(x[:, :, : row + 1])[:, row, column]
            x[:, 0, row, column] = sample_pixels(logits, model.config.pixel_levels, generator)
    return x


def measure(settings: dict, n: int) -> dict:
    torch.manual_seed(0)
    model = PixelCNN(PixelCNNConfig(data_shape=(1, 28, 28), **settings)).eval()
    with torch.no_grad():
        started = time.perf_counter()
        reference = full_network_sample(model, n, torch.Generator().manual_seed(1))
        reference_seconds = time.perf_counter() - started
        started = time.perf_counter()
        cached = model.sample(n, generator=torch.Generator().manual_seed(1))
        cached_seconds = time.perf_counter() - started
    return {
        "model_config": settings,
        "samples": n,
        "full_network_seconds": round(reference_seconds, 2),
        "cached_seconds": round(cached_seconds, 2),
        "speedup": round(reference_seconds / cached_seconds, 1),
        "identical_samples": bool(torch.equal(reference, cached)),
        "load_average_after": round(os.getloadavg()[0], 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=int, default=64)
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results/pixelcnn_sampling.json"))
    arguments = parser.parse_args()
    results = {
        "versions": software_versions(),
        "threads": torch.get_num_threads(),
        "load_average_before": round(os.getloadavg()[0], 1),
        "runs": {},
    }
    for name, settings in CONFIGS.items():
        results["runs"][name] = measure(settings, arguments.samples)
        print(name, json.dumps(results["runs"][name]), flush=True)
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    arguments.output.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

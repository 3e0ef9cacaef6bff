"""Hugging Face diffusers on the mnist5k training images: the reference for benchmarks/diffusion_mnist5k.py.

Runs in its own virtual environment (benchmarks/reference/diffusers_env.sh), without genmodels. A
``UNet2DModel`` of about the same parameter count as genmodels' default U-Net, trained with
``DDPMScheduler`` (cosine schedule, "squaredcos_cap_v2", noise prediction) at the same batch size
and wall-clock budget, then sampled with ``DDIMScheduler`` at the same number of network
evaluations. Writes the samples as .npy and a JSON record; the genmodels benchmark scores them with
the same feature network as its own samples.

    /work/venvs/diffusers/bin/python benchmarks/reference/diffusers_mnist5k.py \
        --images train.npy --seconds 120 --output reference.json --samples-output samples.npy
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import diffusers
import numpy as np
import torch
from diffusers import DDIMScheduler, DDPMScheduler, UNet2DModel


def build_unet(side: int, channels: int) -> UNet2DModel:
    """Three resolutions of widths 32, 64, 64, one block each, attention at the lowest (as genmodels' default)."""
    return UNet2DModel(
        sample_size=side,
        in_channels=channels,
        out_channels=channels,
        layers_per_block=1,
        block_out_channels=(32, 64, 64),
        down_block_types=("DownBlock2D", "DownBlock2D", "AttnDownBlock2D"),
        up_block_types=("AttnUpBlock2D", "UpBlock2D", "UpBlock2D"),
        norm_num_groups=8,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--images", type=Path, required=True, help="training images (n, channels, side, side) in [0, 1]"
    )
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--ema-decay", type=float, default=0.999)
    parser.add_argument("--evaluations", type=int, default=16, help="DDIM steps (network evaluations) per sample")
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, required=True)
    parser.add_argument("--samples-output", type=Path, required=True)
    arguments = parser.parse_args()

    torch.manual_seed(arguments.seed)
    images = torch.from_numpy(np.load(arguments.images)).float() * 2.0 - 1.0
    model = UNet2DModel.from_config(build_unet(images.shape[-1], images.shape[1]).config)
    ema = torch.optim.swa_utils.AveragedModel(
        model, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(arguments.ema_decay)
    )
    scheduler = DDPMScheduler(num_train_timesteps=1000, beta_schedule="squaredcos_cap_v2")
    optimizer = torch.optim.Adam(model.parameters(), lr=arguments.learning_rate)
    started, steps = time.perf_counter(), 0
    while time.perf_counter() - started < arguments.seconds:
        batch = images[torch.randint(len(images), (arguments.batch_size,))]
        noise = torch.randn_like(batch)
        timesteps = torch.randint(scheduler.config.num_train_timesteps, (len(batch),))
        prediction = model(scheduler.add_noise(batch, noise, timesteps), timesteps).sample
        loss = torch.nn.functional.mse_loss(prediction, noise)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        ema.update_parameters(model)
        steps += 1
    train_seconds = time.perf_counter() - started

    sampler = DDIMScheduler.from_config(scheduler.config)
    sampler.set_timesteps(arguments.evaluations)
    network = ema.module.eval()
    generator = torch.Generator().manual_seed(arguments.seed)
    started = time.perf_counter()
    chunks = []
    with torch.no_grad():
        for start in range(0, arguments.samples, 250):
            x = torch.randn(min(250, arguments.samples - start), *images.shape[1:], generator=generator)
            for timestep in sampler.timesteps:
                x = sampler.step(network(x, timestep).sample, timestep, x).prev_sample
            chunks.append(((x + 1.0) / 2.0).clamp(0.0, 1.0))
    sample_seconds = time.perf_counter() - started
    np.save(arguments.samples_output, torch.cat(chunks).numpy())
    record = {
        "library": f"diffusers {diffusers.__version__}",
        "torch": torch.__version__,
        "python": platform.python_version(),
        "parameters": sum(parameter.numel() for parameter in model.parameters()),
        "steps": steps,
        "batch_size": arguments.batch_size,
        "train_seconds": train_seconds,
        "images_per_second": steps * arguments.batch_size / train_seconds,
        "network_evaluations": arguments.evaluations,
        "sample_seconds": sample_seconds,
        "samples_per_second": arguments.samples / sample_seconds,
        "cpu_threads": torch.get_num_threads(),
        "load_average": os.getloadavg(),
        "seed": arguments.seed,
    }
    arguments.output.write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()

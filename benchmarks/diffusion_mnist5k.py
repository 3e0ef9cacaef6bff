"""Diffusion and flow matching on mnist5k at fixed wall-clock budgets, side by side with diffusers; modes on grid25.

For each budget in ``--seconds``, each model trains on the grey-level mnist5k training split, then
draws ``--samples`` samples (balanced labels for the conditional ones) at ``--evaluations`` network
evaluations, scored against the 4,000 training images in the mnist5k feature network as in
benchmarks/gan_mnist5k.py: fd_mnist5k, precision, recall, density, coverage, classes produced, plus
training and sampling images/s. With ``--diffusers-python``, the reference script
benchmarks/reference/diffusers_mnist5k.py trains diffusers' UNet2DModel with DDPMScheduler on the same
images, batch size and budget in its own virtual environment and samples with DDIMScheduler at the
same evaluations; its samples are scored here with the same code. ``--sweep`` adds FD against the
evaluations of every sampler, and guidance weights, for the conditional flow-matching model of the
last budget; ``--grid-seconds`` trains flow matching on grid25 for the mode test.

The machine's load average is recorded with every result: numbers measured on a shared machine
are slower than on an idle one.

    python benchmarks/diffusion_mnist5k.py --seconds 120 --diffusers-python /work/venvs/diffusers/bin/python
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from genmodels.data import DataSpec, load_data
from genmodels.evaluation.feature_network import load_feature_network
from genmodels.evaluation.generated import evaluate_modes, real_data_floor
from genmodels.evaluation.sample_quality import sample_quality
from genmodels.io.versions import software_versions
from genmodels.runs import make_spec, train_run

UNET = {"widths": (32, 64, 64), "blocks_per_level": 1, "attention": True}
MODELS = {
    "flow matching (OT, conditional)": ("flow-matching", {**UNET, "coupling": "ot", "num_classes": 10}, "euler"),
    "DDPM cosine (unconditional)": ("diffusion", {**UNET, "formulation": "ddpm"}, "ddim"),
}
"""Label -> (registered model, config, sampler at the benchmark's evaluations)."""
TRAINER = {"batch_size": 64, "learning_rate": 1e-3}
SWEEP_EVALUATIONS = (4, 8, 16, 32, 64)
GUIDANCE_WEIGHTS = (0.0, 1.0, 2.0, 4.0)
ADAPTIVE_TOLERANCE = 1e-3
"""dopri5's relative and absolute tolerance in the sweep: the model's default (1e-5, for likelihoods) would
spend hundreds of evaluations per sample on a CPU."""
REPORT_STEPS = 4
"""Steps of the run's own sample picture (not scored): kept small so it costs little of the benchmark's time."""
REFERENCE = Path(__file__).parent / "reference" / "diffusers_mnist5k.py"


def train(model: str, data: dict, model_config: dict, trainer: dict, seconds: float, seed: int):
    """Train for ``seconds`` of wall clock without the end-of-run evaluation (the benchmark scores the samples)."""
    settings = {
        "max_steps": 10**7,
        "max_seconds": seconds,
        "val_every": 10**7,
        "checkpoint_every": 10**7,
        "seed": seed,
        "progress_bar": False,
        "tensorboard": False,
        **trainer,
    }
    spec = make_spec(model, data, model_config, settings)
    with tempfile.TemporaryDirectory() as run_dir:
        outcome = train_run(spec, Path(run_dir) / "run", final_eval="none")
    assert outcome is not None
    return outcome, {
        "model": model,
        "model_config": outcome.model.config.to_dict(),
        "trainer": spec.trainer.to_dict(),
        "steps": outcome.fit.steps,
        "train_seconds": outcome.fit.seconds,
        "images_per_second": outcome.fit.examples_per_second,
        "load_average_after_training": os.getloadavg(),
    }


def steps_for(sampler: str, evaluations: int) -> int:
    """Steps that spend ``evaluations`` network evaluations (Heun: 2 steps - 1)."""
    return (evaluations + 1) // 2 if sampler == "heun" else evaluations


def timed_samples(model, n: int, seed: int, **controls) -> tuple[torch.Tensor, float, int]:
    """``n`` samples in batches of 250 (balanced labels for a conditional model), seconds taken, evaluations each."""
    generator = torch.Generator().manual_seed(seed)
    started, chunks = time.perf_counter(), []
    for start in range(0, n, 250):
        size = min(250, n - start)
        labels = {"labels": torch.arange(start, start + size) % 10} if model.is_conditional else {}
        chunks.append(model.sample(size, generator=generator, **labels, **controls))
    return torch.cat(chunks), time.perf_counter() - started, model.last_evaluations


def scored(network, reference: torch.Tensor, samples: torch.Tensor, seconds: float, evaluations: int) -> dict:
    return {
        **sample_quality(network, reference, samples),
        "network_evaluations": evaluations,
        "sample_seconds": seconds,
        "samples_per_second": len(samples) / seconds,
        "load_average": os.getloadavg(),
    }


def label_agreement(network, samples: torch.Tensor) -> float:
    """Fraction of samples from :func:`timed_samples` (sample i asked for label i mod 10) that the feature
    classifier assigns the label they asked for."""
    _, probabilities = network.embed(samples)
    return float((probabilities.argmax(1) == np.arange(len(samples)) % 10).mean())


def run_reference(python: str, images: torch.Tensor, seconds: float, evaluations: int, samples: int, seed: int):
    """diffusers' run in its own environment; returns its record and its samples."""
    with tempfile.TemporaryDirectory() as directory:
        folder = Path(directory)
        np.save(folder / "train.npy", images.numpy())
        command = [
            python, str(REFERENCE), "--images", str(folder / "train.npy"), "--seconds", str(seconds),
            "--batch-size", str(TRAINER["batch_size"]), "--learning-rate", str(TRAINER["learning_rate"]),
            "--evaluations", str(evaluations), "--samples", str(samples), "--seed", str(seed),
            "--output", str(folder / "reference.json"), "--samples-output", str(folder / "samples.npy"),
        ]  # fmt: skip
        subprocess.run(command, check=True)
        record = json.loads((folder / "reference.json").read_text())
        return record, torch.from_numpy(np.load(folder / "samples.npy"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results/diffusion_mnist5k.json"))
    parser.add_argument("--seconds", type=float, nargs="+", default=[120.0], help="wall-clock training budgets")
    parser.add_argument("--evaluations", type=int, default=16, help="network evaluations per sample")
    parser.add_argument("--samples", type=int, default=1000)
    parser.add_argument("--models", nargs="*", default=list(MODELS), help="labels of MODELS to train")
    parser.add_argument("--diffusers-python", help="python of the diffusers environment; omit to skip the reference")
    parser.add_argument("--sweep", action="store_true", help="FD against evaluations per sampler, and guidance")
    parser.add_argument("--grid-seconds", type=float, default=0.0, help="budget of the grid25 mode test (0: skip)")
    parser.add_argument("--seed", type=int, default=0)
    arguments = parser.parse_args()

    grey = load_data(DataSpec("mnist5k"))
    network = load_feature_network("mnist5k")
    reference_images = grey.train.images
    floor = real_data_floor(grey, num_candidates=arguments.samples, seed=arguments.seed)
    results: dict = {"floor (real held-out vs train)": floor}
    print("floor", json.dumps(results["floor (real held-out vs train)"]), flush=True)
    last_conditional = None
    for seconds in arguments.seconds:
        budget: dict = {}
        for label in arguments.models:
            model_name, model_config, sampler = MODELS[label]
            outcome, training = train(model_name, {"name": "mnist5k"}, model_config, TRAINER, seconds, arguments.seed)
            model = outcome.model
            samples, taken, evaluations = timed_samples(
                model, arguments.samples, arguments.seed, sampler=sampler, steps=arguments.evaluations
            )
            training["parameters"] = sum(parameter.numel() for parameter in model.network.parameters())
            budget[label] = {
                **training,
                "sampler": sampler,
                **scored(network, reference_images, samples, taken, evaluations),
            }
            print(seconds, label, json.dumps(budget[label]), flush=True)
            if model.is_conditional:
                last_conditional = model
        if arguments.diffusers_python:
            record, samples = run_reference(
                arguments.diffusers_python, reference_images, seconds, arguments.evaluations, arguments.samples,
                arguments.seed,
            )  # fmt: skip
            budget["diffusers DDPM (UNet2DModel, DDIM)"] = {
                **record,
                **sample_quality(network, reference_images, samples),
                "load_average_after": os.getloadavg(),
            }
            print(seconds, "diffusers", json.dumps(budget["diffusers DDPM (UNet2DModel, DDIM)"]), flush=True)
        results[f"{seconds:g} s"] = budget

    sweep: dict = {}
    if arguments.sweep and last_conditional is not None:
        for sampler in ("euler", "heun"):
            for evaluations in SWEEP_EVALUATIONS:
                samples, taken, used = timed_samples(
                    last_conditional, arguments.samples, arguments.seed, sampler=sampler,
                    steps=steps_for(sampler, evaluations),
                )  # fmt: skip
                sweep[f"{sampler} {used}"] = scored(network, reference_images, samples, taken, used)
                print("sweep", sampler, used, json.dumps(sweep[f"{sampler} {used}"]), flush=True)
        last_conditional.config.ode_tolerance = ADAPTIVE_TOLERANCE
        samples, taken, used = timed_samples(last_conditional, arguments.samples, arguments.seed, sampler="adaptive")
        sweep["adaptive"] = {**scored(network, reference_images, samples, taken, used), "tolerance": ADAPTIVE_TOLERANCE}
        for guidance in GUIDANCE_WEIGHTS:
            samples, taken, used = timed_samples(
                last_conditional, arguments.samples, arguments.seed, guidance=guidance, steps=arguments.evaluations
            )
            sweep[f"guidance {guidance:g}"] = {
                **scored(network, reference_images, samples, taken, used),
                "label_agreement": label_agreement(network, samples),
            }
            print("guidance", guidance, json.dumps(sweep[f"guidance {guidance:g}"]), flush=True)

    grid: dict = {}
    if arguments.grid_seconds > 0:
        outcome, training = train(
            "flow-matching",
            {"name": "grid25"},
            {"hidden_dim": 256, "depth": 3, "coupling": "ot", "sampler": "heun", "steps": 16},
            {"batch_size": 256, "learning_rate": 1e-3},
            arguments.grid_seconds,
            arguments.seed,
        )
        grid["flow matching (OT, MLP)"] = {
            **training,
            "modes": evaluate_modes(outcome.model, "grid25", seed=arguments.seed),
            "load_average": os.getloadavg(),
        }
        print("grid25", json.dumps(grid), flush=True)

    summary = {
        "command": "python " + " ".join(sys.argv),
        "seed": arguments.seed,
        "trainer": TRAINER,
        "mnist5k": results,
        "sweep": sweep,
        "grid25": grid,
        "data": grey.info,
        "versions": software_versions(),
        "cpu_threads": torch.get_num_threads(),
        "load_average_at_end": os.getloadavg(),
    }
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    arguments.output.write_text(json.dumps(summary, indent=2) + "\n")


if __name__ == "__main__":
    main()

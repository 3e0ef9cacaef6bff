"""The end-of-run quality report: held-out metrics, samples and plots a user can trust at a glance."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

from genmodels.applications.latent_space import has_latent_space, reconstruct
from genmodels.data import DataSplits
from genmodels.data.synthetic import MIXTURES
from genmodels.errors import ConfigError
from genmodels.evaluation import evaluate_likelihood, evaluate_losses
from genmodels.evaluation.feature_network import feature_network_directory
from genmodels.evaluation.generated import (
    MODE_SAMPLES,
    draw_samples,
    evaluate_modes,
    evaluate_samples,
    held_out_images,
    real_data_floor,
)
from genmodels.evaluation.sample_quality import METRICS
from genmodels.evaluation.text import evaluate_text
from genmodels.io.files import write_text_atomic
from genmodels.io.progress import PhaseProgress
from genmodels.io.versions import software_versions
from genmodels.models.autoregressive.sequence import SequenceModel
from genmodels.models.base import GenerativeModel
from genmodels.plotting import (
    plot_latent_map,
    plot_points,
    plot_training_curves,
    save_image_grid,
    save_manifold_grid,
    save_reconstructions,
)
from genmodels.training.trainer import HISTORY_NAME

if TYPE_CHECKING:
    from genmodels.runs.spec import RunSpec
    from genmodels.training import FitResult

REPORT_FILE = "report.json"
SAMPLE_SEED = 0


FINAL_EVALUATIONS = ("full", "quick", "none")
QUICK_EVALUATION = {"max_examples": 500, "importance_samples": 50, "num_samples": 500, "sampling_seconds": 30.0}
"""What a quick final evaluation computes: on the first 500 held-out examples (or text windows), with
K = 50 importance samples, and sample quality from 500 samples (each at most the full evaluation's),
or from as many as the sampler draws in about 30 s at the speed measured on the report's sample grid
(never fewer than :data:`QUICK_MIN_SAMPLES`): an autoregressive sampler pays one pass per pixel."""
QUICK_MIN_SAMPLES = 100
GRID_SAMPLES = 64
FEW_SAMPLES = 1000
"""Below this many samples, k-NN precision and recall are read against their real-data floor."""
SINGLE_CLASS = 1


def evaluate_split(
    model: GenerativeModel,
    data: DataSplits,
    split: str = "test",
    sample_metrics: Sequence[str] | None = None,
    num_samples: int | None = None,
    feature_network: str | None = None,
    max_examples: int | None = None,
    importance_samples: int | None = None,
) -> dict[str, Any]:
    """Held-out losses, the likelihood (or its bound) where the family has one, and sample quality.

    Sample quality: modes recovered on a 2-D test bed; otherwise the feature-network metrics in
    ``sample_metrics`` (None: all of them where the data set has a feature network; empty: none),
    beside the same metrics for as many real held-out images (``sample_quality_floor``).
    ``max_examples`` evaluates the split's first examples only; ``importance_samples`` replaces K.
    """
    held_out = getattr(data, split)
    if hasattr(model, "generate_tokens"):  # a language model: judged per token, not per image
        return {
            "split": split,
            "text": evaluate_text(model, held_out, data.tokenizer, max_windows=max_examples),
        }
    columns = {name: column[:max_examples] for name, column in held_out.tensors().items()}
    metrics: dict[str, Any] = {"split": split, "losses": evaluate_losses(model, columns)}
    if model.likelihood_missing:
        metrics["not_available"] = {"likelihood": model.likelihood_missing}
    else:
        metrics["likelihood"] = evaluate_likelihood(
            model,
            columns["x"],
            columns.get("y"),
            discrete=bool(data.info.get("binarized")) or getattr(model.config, "pixel_levels", None) == 256,
            importance_samples=importance_samples,
        )
    if data.is_text:
        return metrics
    data_name = data.info["spec"]["name"]
    if data_name in MIXTURES:
        metrics["modes"] = evaluate_modes(model, data_name)
    elif sample_metrics or (sample_metrics is None and feature_network_directory(data_name) is not None):
        chosen = sample_metrics or METRICS
        quality = evaluate_samples(model, data, chosen, num_samples, feature_network=feature_network)
        metrics["sample_quality"] = quality
        metrics["sample_quality_floor"] = real_data_floor(
            data, chosen, feature_network, num_candidates=quality["candidate_images"]
        )
    return metrics


def quality_notes(model: GenerativeModel, fit: FitResult, test: dict[str, Any]) -> list[str]:
    """What in a finished run suggests a model too little trained to judge, or numbers to read with care."""
    notes = model.untrained_signs(fit.validation)
    quality = test.get("sample_quality", {})
    if quality.get("classes_produced") == SINGLE_CLASS:
        notes.append(f"the samples fall in one class of {quality['num_classes']}: an untrained or collapsed generator")
    floor = test.get("sample_quality_floor", {})
    if "precision" in quality and quality["candidate_images"] < FEW_SAMPLES:
        notes.append(
            f"precision and recall from {quality['candidate_images']} samples (k = {quality['nearest_k']}) "
            f"flatter even noise: real held-out images score precision {floor['precision']:.3f}, "
            f"recall {floor['recall']:.3f} on as many; compare with those, and with the Frechet distance"
        )
    return notes


def write_run_report(
    run_dir: Path,
    model: GenerativeModel,
    data: DataSplits,
    spec: RunSpec,
    fit: FitResult,
    final_eval: str = "full",
) -> dict[str, Any]:
    """Samples, pictures and the held-out evaluation of a finished run, into ``report.json``.

    ``final_eval``: ``full``, ``quick`` (:data:`QUICK_EVALUATION`) or ``none`` (pictures only; run
    ``genmodels evaluate`` later).
    """
    if final_eval not in FINAL_EVALUATIONS:
        raise ConfigError(f"final_eval must be one of {', '.join(FINAL_EVALUATIONS)}, got {final_eval!r}")
    seconds_per_sample = None
    if hasattr(model, "rows_to_strings"):  # a sequence VAE decodes whole lines
        lines = model.rows_to_strings(sample_images(model, 20))
        pictures = {"samples": str(run_dir / "samples.txt")}
        write_text_atomic(run_dir / "samples.txt", "\n".join(lines) + "\n")
    elif data.is_text:
        pictures = {"samples": str(write_text_samples(model, run_dir / "samples.txt"))}
    elif data.preprocessor is not None:
        rows = data.preprocessor.inverse_transform(sample_images(model, 64), torch.Generator().manual_seed(SAMPLE_SEED))
        pictures = {"samples": str(run_dir / "samples.csv")}
        write_text_atomic(run_dir / "samples.csv", rows.to_csv(index=False))
    elif data.data_shape == (2,):
        samples = draw_samples(model, MODE_SAMPLES, SAMPLE_SEED)
        pictures = {"samples": str(plot_points(data.train.images, samples, run_dir / "samples.png"))}
    else:
        started = time.perf_counter()
        grid = sample_images(model, GRID_SAMPLES)
        seconds_per_sample = (time.perf_counter() - started) / GRID_SAMPLES
        pictures = {"samples": str(save_image_grid(grid, run_dir / "samples.png"))}
    if (run_dir / HISTORY_NAME).is_file():
        pictures["training_curves"] = str(plot_training_curves(run_dir / HISTORY_NAME, run_dir / "training_curves.png"))
    pictures.update(write_latent_pictures(model, data, run_dir))
    split = "test" if data.info["sizes"]["test"] else "validation"
    report = {
        "run": spec.to_dict(),
        "seed": spec.trainer.seed,
        "versions": software_versions(),
        "data": data.info,
        "training": dataclasses.asdict(fit),
        "final_evaluation": final_eval,
        "test": final_evaluation(model, data, split, final_eval, seconds_per_sample),
        "pictures": pictures,
    }
    report["notes"] = quality_notes(model, fit, report["test"])
    write_text_atomic(run_dir / REPORT_FILE, json.dumps(report, indent=2) + "\n")
    return report


def final_evaluation(
    model: GenerativeModel,
    data: DataSplits,
    split: str,
    final_eval: str,
    seconds_per_sample: float | None = None,
) -> dict[str, Any]:
    """The end-of-run evaluation: all of ``split``, a quick look at it, or nothing (``skipped``).

    ``seconds_per_sample``, the sampler's measured speed, sizes the quick evaluation's samples.
    """
    if final_eval == "none":
        return {"split": split, "skipped": True}
    if final_eval == "full":
        return evaluate_split(model, data, split, num_samples=model.report_samples)
    quick = {
        "max_examples": QUICK_EVALUATION["max_examples"],
        "importance_samples": min(QUICK_EVALUATION["importance_samples"], _importance_samples(model)),
        "num_samples": quick_sample_count(model, data, seconds_per_sample),
    }
    return {**evaluate_split(model, data, split, **quick), "quick": quick}


def quick_sample_count(model: GenerativeModel, data: DataSplits, seconds_per_sample: float | None) -> int:
    """Samples for a quick look: at most the full evaluation's and 500, and what ~30 s of sampling draws."""
    full_samples = model.report_samples
    if full_samples is None and len(data.data_shape) == 3:  # images: as many samples as held-out images
        full_samples = len(held_out_images(data))
    count = min(QUICK_EVALUATION["num_samples"], full_samples or QUICK_EVALUATION["num_samples"])
    if seconds_per_sample:
        affordable = int(QUICK_EVALUATION["sampling_seconds"] / seconds_per_sample)
        count = min(count, max(affordable, QUICK_MIN_SAMPLES))
    return count


def _importance_samples(model: GenerativeModel) -> int:
    return getattr(model.config, "importance_samples", QUICK_EVALUATION["importance_samples"])


def write_text_samples(model: SequenceModel, path: Path, count: int = 3, length: int = 300) -> Path:
    """A few seeded continuations of an empty prompt, separated by rules, for a first look at the model."""
    texts = model.generate_batch("", length, num_samples=count, seed=SAMPLE_SEED)
    write_text_atomic(path, "\n\n----------\n\n".join(texts) + "\n")
    return path


def sample_images(model: GenerativeModel, n: int, seed: int = SAMPLE_SEED) -> torch.Tensor:
    with PhaseProgress("samples for the report", n, "samples") as shown:
        samples = model.sample(n, generator=torch.Generator(device=model.device).manual_seed(seed))
        shown.update(n)
    return samples


def write_latent_pictures(model: GenerativeModel, data: DataSplits, out_dir: Path) -> dict[str, str]:
    """Reconstructions; with a 2-D latent space also the latent map and (unconditional) decoded manifold."""
    if not has_latent_space(model) or len(data.data_shape) != 3:
        return {}
    test = data.test
    shown = slice(0, 32)
    pictures = {
        "reconstructions": str(
            save_reconstructions(
                reconstruct(model, test.images[shown], None if test.labels is None else test.labels[shown]),
                out_dir / "reconstructions.png",
            )
        )
    }
    conditions = [{"labels": labels} for labels in test.labels.split(500)] if model.is_conditional else None
    with model.evaluating(), torch.no_grad():
        latent_means = torch.cat(
            [
                model.encode(chunk.to(model.device), **(conditions[index] if conditions else {}))[0]
                for index, chunk in enumerate(test.images.split(500))
            ]
        )
    if latent_means.shape[1] != 2:
        return pictures
    labels = test.labels.numpy() if test.labels is not None else None
    pictures["latent_map"] = str(plot_latent_map(latent_means.cpu().numpy(), labels, out_dir / "latent_map.png"))
    if not model.is_conditional:
        decode = lambda z: model.decode(z.to(model.device))  # noqa: E731
        pictures["manifold"] = str(save_manifold_grid(decode, out_dir / "manifold.png"))
    return pictures

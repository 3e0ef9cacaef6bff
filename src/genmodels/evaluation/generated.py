"""Sample-quality evaluation of a model's samples, and of real held-out data as the floor to compare with.

The reference set is the training split; generated candidates number, by default, as many as the
validation and test splits together, so the real-data floor (held-out images against the training
split) is measured with the same number of candidates as every model.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import torch

from genmodels.data import DataSplits
from genmodels.data.synthetic import MIXTURES
from genmodels.evaluation.feature_network import load_feature_network
from genmodels.evaluation.modes import mode_statistics
from genmodels.evaluation.sample_quality import METRICS, sample_quality
from genmodels.io.progress import PhaseProgress
from genmodels.models.base import GenerativeModel

MODE_SAMPLES = 2500
"""Samples drawn for the mode statistics of the 2-D test beds, as in the unrolled-GAN and VEEGAN papers."""


def held_out_images(data: DataSplits) -> torch.Tensor:
    return torch.cat([data.validation.images, data.test.images])


def draw_samples(model: GenerativeModel, n: int, seed: int = 0, batch_size: int = 500) -> torch.Tensor:
    """``n`` samples in batches; a conditional model gets balanced labels 0, 1, ..., K-1, 0, 1, ..."""
    generator = torch.Generator(device=model.device).manual_seed(seed)
    chunks = []
    with PhaseProgress("sampling", n, "samples") as shown:
        for start in range(0, n, batch_size):
            size = min(batch_size, n - start)
            controls = {}
            if model.is_conditional:
                controls["labels"] = torch.arange(start, start + size) % model.config.num_classes
            chunks.append(model.sample(size, generator=generator, **controls).cpu())
            shown.update(start + size)
    return torch.cat(chunks)


def evaluate_samples(
    model: GenerativeModel,
    data: DataSplits,
    metrics: Iterable[str] = METRICS,
    num_samples: int | None = None,
    seed: int = 0,
    feature_network: str | None = None,
) -> dict[str, Any]:
    """The model's samples against the training split, in the data set's (or the named) feature network."""
    network = load_feature_network(feature_network or data.info["spec"]["name"])
    samples = draw_samples(model, num_samples or len(held_out_images(data)), seed)
    return {"seed": seed, **sample_quality(network, data.train.images, samples, metrics)}


def real_data_floor(
    data: DataSplits,
    metrics: Iterable[str] = METRICS,
    feature_network: str | None = None,
    num_candidates: int | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """The same metrics for real held-out images (validation + test) against the training split.

    ``num_candidates`` takes that many held-out images (a seeded draw; at most all of them), so the
    floor is measured with as many candidates as the model's samples: the k-NN metrics depend on it.
    """
    network = load_feature_network(feature_network or data.info["spec"]["name"])
    held_out = held_out_images(data)
    if num_candidates is not None and num_candidates < len(held_out):
        order = torch.randperm(len(held_out), generator=torch.Generator().manual_seed(seed))
        held_out = held_out[order[:num_candidates]]
    return sample_quality(network, data.train.images, held_out, metrics)


def evaluate_modes(model: GenerativeModel, data_name: str, seed: int = 0) -> dict[str, Any]:
    """Modes recovered and high-quality fraction on a 2-D mixture test bed (``grid25``, ``ring8``)."""
    samples = draw_samples(model, MODE_SAMPLES, seed)
    return {"seed": seed, **mode_statistics(samples.numpy(), MIXTURES[data_name])}

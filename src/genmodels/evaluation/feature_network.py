"""Per-data-set feature networks: the offline stand-in for Inception in FID, precision/recall and coverage.

Inception weights cannot be downloaded here, so, as is accepted practice for small image domains
(e.g. the LeNet features of MNIST GAN papers), each image data set gets a small CNN classifier
trained by the library on that data set's training split. Its penultimate layer gives the
features; its softmax gives the label distribution of samples. Training augments with random
binarization and small shifts, so samples of binarized models (VAEs, PixelCNN) are in its domain.

Networks ship inside the package for the built-in image data sets (``genmodels features train``
re-trains them); a user's retrained network in ``~/.cache/genmodels/feature_networks/NAME`` (or
``$GENMODELS_FEATURE_NETWORKS/NAME``) takes precedence.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors.torch import load_model, save_model
from torch import nn
from torch.nn import functional as F

from genmodels.data import DataSpec, load_data
from genmodels.errors import CheckpointError, ConfigError, DataError
from genmodels.io.files import atomic_path, sha256_file, write_text_atomic
from genmodels.io.progress import PhaseProgress
from genmodels.io.run_directory import LOCK_NAME
from genmodels.io.versions import software_versions

SHIPPED = resources.files("genmodels.evaluation") / "files" / "feature_networks"
CONFIG_NAME, WEIGHTS_NAME = "config.json", "model.safetensors"


@dataclass
class FeatureNetworkConfig:
    data_name: str
    data_shape: tuple[int, int, int]
    num_classes: int
    feature_dim: int = 128
    channels: tuple[int, int] = (32, 64)


class FeatureNetwork(nn.Module):
    """Two conv blocks (each two 3x3 convolutions and a 2x2 max-pool), a dense feature layer, a class head."""

    def __init__(self, config: FeatureNetworkConfig) -> None:
        super().__init__()
        self.config = config
        in_channels, height, width = config.data_shape
        first, second = config.channels
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, first, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(first, first, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Conv2d(first, second, 3, padding=1),
            nn.ReLU(),
            nn.Conv2d(second, second, 3, padding=1),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Dropout(0.3),
            nn.Linear(second * (height // 4) * (width // 4), config.feature_dim),
            nn.ReLU(),
        )
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(config.feature_dim, config.num_classes))

    def check_input(self, images: torch.Tensor) -> torch.Tensor:
        expected = tuple(self.config.data_shape)
        if images.dim() != 4 or tuple(images.shape[1:]) != expected:
            raise ConfigError(
                f"the {self.config.data_name} feature network takes images of shape (batch, "
                f"{', '.join(map(str, expected))}), got {tuple(images.shape)}"
            )
        return images.float()

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        """Class logits for images in [0, 1]."""
        return self.head(self.body(self.check_input(images)))

    @torch.no_grad()
    def embed(self, images: torch.Tensor, batch_size: int = 500) -> tuple[np.ndarray, np.ndarray]:
        """Features ``(n, feature_dim)`` and class probabilities ``(n, num_classes)``, in eval mode."""
        self.eval()
        features, probabilities = [], []
        with PhaseProgress("features", len(images), "images") as shown:
            for chunk in self.check_input(images).split(batch_size):
                hidden = self.body(chunk)
                features.append(hidden)
                probabilities.append(self.head(hidden).softmax(-1))
                shown.advance(len(chunk))
        return torch.cat(features).numpy(), torch.cat(probabilities).numpy()

    def save(self, directory: str | Path, **record: Any) -> Path:
        directory = Path(directory)
        with atomic_path(directory / WEIGHTS_NAME) as temporary:
            save_model(self, str(temporary))
        config = {
            "config": asdict(self.config),
            "weights_sha256": sha256_file(directory / WEIGHTS_NAME),
            "versions": software_versions(),
            **record,
        }
        write_text_atomic(directory / CONFIG_NAME, json.dumps(config, indent=2) + "\n")
        return directory


def user_feature_network_root() -> Path:
    return Path(os.environ.get("GENMODELS_FEATURE_NETWORKS", Path.home() / ".cache/genmodels/feature_networks"))


def feature_network_directory(data_name: str) -> Path | None:
    """Where the feature network of a data set (or a directory path) is: user's retrained, then shipped."""
    if (Path(data_name) / CONFIG_NAME).is_file():
        return Path(data_name)
    for root in (user_feature_network_root(), SHIPPED):
        candidate = root / data_name
        if (candidate / CONFIG_NAME).is_file():
            return Path(str(candidate))
    return None


def holds_feature_network(directory: Path) -> bool:
    """Whether ``directory`` holds a feature network and nothing else (what re-training may replace)."""
    if not (directory / CONFIG_NAME).is_file():
        return False
    try:
        saved = json.loads((directory / CONFIG_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    expected = {CONFIG_NAME, WEIGHTS_NAME, LOCK_NAME}
    is_network = isinstance(saved, dict) and "test_accuracy" in saved and "model_type" not in saved
    return is_network and all(entry.name in expected for entry in directory.iterdir())


def load_feature_network(data_name: str) -> FeatureNetwork:
    directory = feature_network_directory(data_name)
    if directory is None:
        raise CheckpointError(
            f"no feature network for {data_name!r}; train one with `genmodels features train --data {data_name}` "
            "(it needs a labelled image data set)"
        )
    saved = json.loads((directory / CONFIG_NAME).read_text(encoding="utf-8"))
    weights = directory / WEIGHTS_NAME
    if not weights.is_file() or sha256_file(weights) != saved.get("weights_sha256"):
        raise CheckpointError(f"{weights} is missing or does not match the SHA-256 in {directory / CONFIG_NAME}")
    config = saved["config"]
    network = FeatureNetwork(
        FeatureNetworkConfig(
            **{**config, "data_shape": tuple(config["data_shape"]), "channels": tuple(config["channels"])}
        )
    )
    load_model(network, str(weights), strict=True)
    return network.eval()


def _augment(images: torch.Tensor, generator: torch.Generator, max_shift: int) -> torch.Tensor:
    """Binarize half the images (Bernoulli of their intensities) and shift the batch by up to ``max_shift`` pixels."""
    binarized = torch.bernoulli(images, generator=generator)
    chosen = torch.rand(len(images), 1, 1, 1, generator=generator) < 0.5
    images = torch.where(chosen, binarized, images)
    if max_shift == 0:
        return images
    padded = F.pad(images, [max_shift] * 4)
    height, width = images.shape[-2:]
    shifts = torch.randint(0, 2 * max_shift + 1, (2,), generator=generator).tolist()
    return padded[..., shifts[0] : shifts[0] + height, shifts[1] : shifts[1] + width]


def accuracy(network: FeatureNetwork, images: torch.Tensor, labels: torch.Tensor) -> float:
    _, probabilities = network.embed(images)
    return float((probabilities.argmax(1) == labels.numpy()).mean())


def train_feature_network(
    data_name: str, output: str | Path, epochs: int = 30, batch_size: int = 64, seed: int = 0
) -> dict[str, Any]:
    """Train the data set's classifier on its training split (best validation accuracy kept) and save it."""
    data = load_data(DataSpec(data_name))
    if data.train.labels is None:
        raise DataError(f"{data_name}: a feature network is a classifier and needs labelled data")
    if len(data.data_shape) != 3:
        raise DataError(f"{data_name}: feature networks are for images; got rows of shape {data.data_shape}")
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    config = FeatureNetworkConfig(data_name, tuple(data.data_shape), int(data.info["num_classes"]))
    network = FeatureNetwork(config)
    optimizer = torch.optim.Adam(network.parameters(), lr=1e-3)
    images, labels = data.train.images, data.train.labels
    max_shift = data.data_shape[-1] // 14  # 2 pixels at 28x28; none for 8x8, where one pixel is an eighth
    best_accuracy, best_state = -1.0, None
    for _ in range(epochs):
        network.train()
        order = torch.randperm(len(images), generator=generator)
        for batch in order.split(batch_size):
            logits = network(_augment(images[batch], generator, max_shift))
            loss = F.cross_entropy(logits, labels[batch])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        validation_accuracy = accuracy(network, data.validation.images, data.validation.labels)
        if validation_accuracy > best_accuracy:
            best_accuracy = validation_accuracy
            best_state = {name: tensor.clone() for name, tensor in network.state_dict().items()}
    network.load_state_dict(best_state)
    binarized_test = torch.bernoulli(data.test.images, generator=torch.Generator().manual_seed(seed + 1))
    record = {
        "data": {"name": data_name, "sha256": data.info["sha256"], "sizes": data.info["sizes"]},
        "training": {"epochs": epochs, "batch_size": batch_size, "seed": seed, "learning_rate": 1e-3},
        "validation_accuracy": best_accuracy,
        "test_accuracy": accuracy(network, data.test.images, data.test.labels),
        "test_accuracy_binarized": accuracy(network, binarized_test, data.test.labels),
        "parameters": sum(math.prod(p.shape) for p in network.parameters()),
    }
    network.save(output, **record)
    return record

"""What the autoregressive image models share: exact per-pixel likelihoods (binary or 256 grey levels),
class labels, and the loss."""

from __future__ import annotations

import math

import torch
from torch.nn import functional as F

from genmodels.errors import ConfigError
from genmodels.models.base import Batch, GenerativeModel

PIXEL_LEVELS = (2, 256)


def check_pixel_levels(levels: int) -> None:
    if levels not in PIXEL_LEVELS:
        raise ConfigError(f"pixel_levels must be 2 (binary images) or 256 (8-bit grey levels), got {levels}")


def pixel_targets(x: torch.Tensor, levels: int, model_name: str) -> torch.Tensor:
    """Integer pixel values: {0, 1} for binary images, 0..255 for grey levels given in [0, 1]."""
    if levels == 2:
        if not torch.all((x == 0) | (x == 1)):
            raise ConfigError(
                f"{model_name} with pixel_levels=2 models binary pixels; binarize the data (data.binarize=true) "
                "or set model.pixel_levels=256 for grey levels"
            )
        return x.long()
    if x.min() < 0 or x.max() > 1:
        raise ConfigError(f"{model_name} expects grey levels in [0, 1], got values in [{x.min()}, {x.max()}]")
    return (x * 255).round().long()


def output_size(levels: int) -> int:
    """Outputs per pixel: one logit for a binary pixel, one per level otherwise."""
    return 1 if levels == 2 else levels


def pixel_log_probs(logits: torch.Tensor, targets: torch.Tensor, levels: int) -> torch.Tensor:
    """log p(pixel) for every pixel: ``logits (..., output_size)`` and ``targets (...)`` -> ``(...)``."""
    if levels == 2:
        return -F.binary_cross_entropy_with_logits(logits.squeeze(-1), targets.float(), reduction="none")
    return -F.cross_entropy(logits.movedim(-1, 1), targets, reduction="none")


def sample_pixels(logits: torch.Tensor, levels: int, generator: torch.Generator | None) -> torch.Tensor:
    """Pixel values in [0, 1] drawn from ``(batch, output_size)`` logits."""
    if levels == 2:
        return torch.bernoulli(torch.sigmoid(logits.squeeze(-1)), generator=generator)
    drawn = torch.multinomial(logits.softmax(-1), 1, generator=generator).squeeze(-1)
    return drawn.float() / 255


def class_labels(
    labels: torch.Tensor | int | None, batch: int, num_classes: int, device: torch.device
) -> torch.Tensor | None:
    """Validated labels ``(batch,)`` for a conditional model (an int means every row); None when unconditional."""
    if num_classes == 0:
        if labels is not None:
            raise ConfigError("this model is not conditional (num_classes = 0); do not pass labels")
        return None
    if labels is None:
        raise ConfigError(f"this conditional model needs labels (integers in 0..{num_classes - 1})")
    labels = torch.as_tensor(labels, device=device).long()
    if labels.dim() == 0:
        labels = labels.expand(batch)
    if labels.shape != (batch,) or labels.min() < 0 or labels.max() >= num_classes:
        raise ConfigError(f"labels must be {batch} integers in 0..{num_classes - 1}, got shape {tuple(labels.shape)}")
    return labels


class AutoregressiveImageModel(GenerativeModel):
    """Base of MADE and PixelCNN: log p(x) is the exact sum of every pixel's conditional; labels optional."""

    log_prob_kind = "exact"
    recommended_data = {"binarize": True}
    report_samples = 200
    """Sampling takes one network pass per pixel, so run reports draw fewer (``genmodels evaluate`` draws more)."""
    sampling_controls = ("labels",)

    @property
    def is_conditional(self) -> bool:
        return self.config.num_classes > 0

    def training_log_prob(self, x: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        """The log-likelihood the loss maximises; MADE trains one mask per step instead of the ensemble."""
        return self.log_prob(x, labels)

    def loss(self, batch: Batch, phase: str | None = None) -> dict[str, torch.Tensor]:
        labels = batch.get("y") if self.is_conditional else None
        nll = -self.training_log_prob(batch["x"], labels).mean()
        return {"loss": nll, "bits_per_dim": nll / (math.prod(self.config.data_shape) * math.log(2))}

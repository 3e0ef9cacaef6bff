"""Named anomaly scores for every family (higher = more anomalous), and per-pixel maps where they make sense.

- ``nll``: the model's ``score``: exact negative log-likelihood (MADE, PixelCNN, sequence models),
  the importance-weighted NLL estimate (VAEs), or the negated critic output (GANs, a heuristic).
- ``negative_elbo``: a VAE's negative evidence lower bound (single-sample, seeded).
- ``reconstruction``: a VAE's squared error between x and the decoded mean of its posterior mean.
- ``critic``: a GAN's negated discriminator or critic output (the same as its ``nll`` entry).
- ``input_complexity``: NLL minus the input's complexity, its PNG-compressed length in nats
  (Serra et al., 2020): likelihood models rate simple inputs as likely whatever their content,
  and this correction removes most of that bias.
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable

import numpy as np
import torch
from PIL import Image

from genmodels.models.adversarial import AdversarialModel
from genmodels.models.base import GenerativeModel
from genmodels.models.vae import VariationalAutoencoder

ScoreFunction = Callable[[GenerativeModel, torch.Tensor], torch.Tensor]


def _nll(model: GenerativeModel, x: torch.Tensor) -> torch.Tensor:
    return model.score(x)


def _negative_elbo(model: VariationalAutoencoder, x: torch.Tensor) -> torch.Tensor:
    return -model.elbo(x)


def _reconstruction(model: VariationalAutoencoder, x: torch.Tensor) -> torch.Tensor:
    return reconstruction_map(model, x).flatten(1).sum(1)


def compressed_length_nats(x: torch.Tensor) -> torch.Tensor:
    """Each image's length as a losslessly compressed 8-bit PNG, in nats: a complexity estimate L(x)."""
    images = (x.detach().cpu().clamp(0, 1) * 255).round().to(torch.uint8).numpy()
    lengths = []
    for image in images:  # (channels, height, width)
        array = image[0] if image.shape[0] == 1 else np.moveaxis(image, 0, -1)
        buffer = io.BytesIO()
        Image.fromarray(array).save(buffer, format="PNG", optimize=True)
        lengths.append(len(buffer.getvalue()) * 8 * math.log(2))
    return torch.tensor(lengths)


def _input_complexity(model: GenerativeModel, x: torch.Tensor) -> torch.Tensor:
    return model.score(x).cpu() - compressed_length_nats(x)


SCORES: dict[str, tuple[str, ScoreFunction]] = {
    "nll": ("any model", _nll),
    "negative_elbo": ("VAEs", _negative_elbo),
    "reconstruction": ("VAEs", _reconstruction),
    "critic": ("GANs", _nll),
    "input_complexity": ("models with a likelihood, on images", _input_complexity),
}


def available_scores(model: GenerativeModel) -> list[str]:
    """The score names that apply to this model."""
    names = ["nll"]
    if isinstance(model, VariationalAutoencoder):
        names += ["negative_elbo", "reconstruction"]
    if isinstance(model, AdversarialModel):
        names = ["critic"]
    if model.score_is_nll and model.log_prob_kind != "none" and len(model.config.data_shape) == 3:
        names.append("input_complexity")
    return names


def anomaly_scores(
    model: GenerativeModel, x: torch.Tensor, score: str = "nll", batch_size: int = 250, seed: int = 0
) -> np.ndarray:
    """One score per row of ``x``, computed in eval mode and batches; the same seed gives the same scores."""
    if score not in SCORES:
        raise ValueError(f"unknown score {score!r}; choose from {', '.join(SCORES)}")
    if score not in available_scores(model):
        raise ValueError(
            f"score {score!r} does not apply to {type(model).__name__}; it offers {', '.join(available_scores(model))}"
        )
    function = SCORES[score][1]
    torch.manual_seed(seed)
    with model.evaluating(), torch.no_grad():
        parts = [function(model, chunk.to(model.device)).float().cpu() for chunk in x.split(batch_size)]
    return torch.cat(parts).numpy().astype(np.float64)


def reconstruction_map(model: VariationalAutoencoder, x: torch.Tensor) -> torch.Tensor:
    """Squared error per pixel between ``x`` and the decoded posterior mean: ``(batch, *data_shape)``."""
    x = model.check_input(x)
    z_mean, _ = model.encode(x)
    return (model.decode(z_mean) - x).pow(2)


def pixel_anomaly_map(model: GenerativeModel, x: torch.Tensor) -> torch.Tensor:
    """Which pixels are anomalous: each pixel's NLL (autoregressive models) or squared reconstruction error (VAEs)."""
    with model.evaluating(), torch.no_grad():
        if hasattr(model, "pixel_log_probs"):
            return -model.pixel_log_probs(x)
        if isinstance(model, VariationalAutoencoder):
            return reconstruction_map(model, x)
    raise ValueError(f"{type(model).__name__} has no per-pixel anomaly map (autoregressive image models and VAEs do)")


def column_anomaly_map(model: GenerativeModel, x: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """Which columns make table rows unlikely: each column's -log p(x_v | x_<v), ``(batch, columns)``.

    The columns are the model's variables (numeric ones, then one per categorical group) and sum to
    the row's NLL; models with a ``feature_log_probs`` (the tabular MADE) have one.
    """
    if not hasattr(model, "feature_log_probs"):
        raise ValueError(f"{type(model).__name__} has no per-column anomaly map (the tabular MADE has)")
    with model.evaluating(), torch.no_grad():
        return -torch.cat([model.feature_log_probs(chunk.to(model.device)).cpu() for chunk in x.split(batch_size)])

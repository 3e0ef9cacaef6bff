"""Named anomaly scores of any model (higher = more anomalous), and per-pixel or per-column maps.

Each model names the scores it offers through :meth:`~genmodels.models.base.GenerativeModel.anomaly_scores`:

- ``nll``: the model's ``score``: exact negative log-likelihood (MADE, PixelCNN; per token for sequence
  models), or the importance-weighted NLL estimate (VAEs).
- ``negative_elbo``: a VAE's negative evidence lower bound (single-sample, seeded).
- ``reconstruction``: a VAE's squared error between x and the decoded mean of its posterior mean.
- ``critic``: a GAN's negated discriminator or critic output (a heuristic).
- ``input_complexity``: NLL minus the input's complexity, its PNG-compressed length in nats
  (Serra et al., 2020): likelihood models rate simple inputs as likely whatever their content,
  and this correction removes most of that bias.
"""

from __future__ import annotations

import numpy as np
import torch

from genmodels.errors import ConfigError
from genmodels.models.base import GenerativeModel

SCORE_DESCRIPTIONS: dict[str, str] = {
    "nll": "negative log-likelihood or its bound (any model with a likelihood)",
    "negative_elbo": "negative ELBO (VAEs)",
    "reconstruction": "squared reconstruction error (VAEs)",
    "critic": "negated discriminator output (GANs, a heuristic)",
    "input_complexity": "NLL minus PNG-compressed length (likelihood models on images)",
}


def available_scores(model: GenerativeModel) -> list[str]:
    """The score names that apply to this model."""
    return list(model.anomaly_scores())


def anomaly_scores(
    model: GenerativeModel, x: torch.Tensor, score: str = "nll", batch_size: int = 250, seed: int = 0
) -> np.ndarray:
    """One score per row of ``x``, computed in eval mode and batches; the same seed gives the same scores."""
    offered = model.anomaly_scores()
    if score not in offered:
        raise ConfigError(f"score {score!r} does not apply to {type(model).__name__}; it offers {', '.join(offered)}")
    torch.manual_seed(seed)
    with model.evaluating(), torch.no_grad():
        parts = [offered[score](chunk.to(model.device)).float().cpu() for chunk in x.split(batch_size)]
    return torch.cat(parts).numpy().astype(np.float64)


def pixel_anomaly_map(model: GenerativeModel, x: torch.Tensor) -> torch.Tensor:
    """Which pixels are anomalous: each pixel's NLL (autoregressive models) or squared reconstruction error (VAEs)."""
    with model.evaluating(), torch.no_grad():
        if hasattr(model, "pixel_log_probs"):
            return -model.pixel_log_probs(x)
        if hasattr(model, "reconstruction_map"):
            return model.reconstruction_map(x)
    raise ConfigError(f"{type(model).__name__} has no per-pixel anomaly map (autoregressive image models and VAEs do)")


def column_anomaly_map(model: GenerativeModel, x: torch.Tensor, batch_size: int = 1000) -> torch.Tensor:
    """Which columns make table rows unlikely: each column's -log p(x_v | x_<v), ``(batch, columns)``.

    The columns are the model's variables (numeric ones, then one per categorical group) and sum to
    the row's NLL; models with a ``feature_log_probs`` (the tabular MADE) have one.
    """
    if not hasattr(model, "feature_log_probs"):
        raise ConfigError(f"{type(model).__name__} has no per-column anomaly map (the tabular MADE has)")
    with model.evaluating(), torch.no_grad():
        return -torch.cat([model.feature_log_probs(chunk.to(model.device)).cpu() for chunk in x.split(batch_size)])

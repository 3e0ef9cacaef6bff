"""Looking inside a latent-variable model: reconstructions, interpolations and traversals.

Works with any model that has ``encode(x) -> (mean, log_var)`` and ``decode(z)``; codes are the
posterior means, so the pictures are deterministic.
"""

from __future__ import annotations

import torch

from genmodels.errors import ConfigError
from genmodels.models.base import GenerativeModel


def has_latent_space(model: GenerativeModel) -> bool:
    return callable(getattr(model, "encode", None)) and callable(getattr(model, "decode", None))


def _require_latent_space(model: GenerativeModel) -> None:
    if not has_latent_space(model):
        raise TypeError(f"{type(model).__name__} has no latent space (it needs encode and decode)")


def _labels_for(model: GenerativeModel, labels: torch.Tensor | None) -> dict[str, torch.Tensor]:
    if not model.is_conditional:
        return {}
    if labels is None:
        raise ConfigError("a conditional model needs the images' labels")
    return {"labels": labels.to(model.device)}


TRAVERSAL_VALUES = torch.linspace(-3, 3, 9)
"""Where a traversal puts the swept dimension: -3 to 3 prior standard deviations."""


def reconstruct(model: GenerativeModel, images: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
    """Originals and their reconstructions interleaved in pairs, ``(2 * n, C, H, W)``."""
    _require_latent_space(model)
    conditions = _labels_for(model, labels)
    with model.evaluating(), torch.no_grad():
        images = images.to(model.device)
        reconstructions = model.decode(model.encode(images, **conditions)[0], **conditions)
    return torch.stack([images, reconstructions], dim=1).flatten(0, 1)


def slerp(start: torch.Tensor, end: torch.Tensor, fractions: torch.Tensor) -> torch.Tensor:
    """Spherical interpolation (Shoemake, 1985; White, 2016 for latent spaces), ``(steps, latent)``."""
    cosine = torch.dot(start, end) / (start.norm() * end.norm()).clamp_min(1e-12)
    angle = torch.arccos(cosine.clamp(-1.0, 1.0))
    if angle.abs() < 1e-6:
        return torch.lerp(start, end, fractions[:, None])
    return (
        torch.sin((1 - fractions)[:, None] * angle) * start + torch.sin(fractions[:, None] * angle) * end
    ) / torch.sin(angle)


def interpolate(
    model: GenerativeModel,
    first: torch.Tensor,
    second: torch.Tensor,
    steps: int = 10,
    method: str = "linear",
    labels: torch.Tensor | None = None,
) -> torch.Tensor:
    """Decoded images along the path between two inputs' codes, ``(steps, C, H, W)``; ends included.

    A conditional model keeps the first input's label along the path.
    """
    _require_latent_space(model)
    if method not in ("linear", "spherical"):
        raise ConfigError(f"method must be linear or spherical, got {method!r}")
    if steps < 2:
        raise ConfigError(f"steps must be at least 2, got {steps}")
    pair = torch.stack([first, second]).to(model.device)
    conditions = _labels_for(model, labels)
    with model.evaluating(), torch.no_grad():
        codes = model.encode(pair, **conditions)[0]
        fractions = torch.linspace(0, 1, steps, device=codes.device)
        if method == "linear":
            path = torch.lerp(codes[0], codes[1], fractions[:, None])
        else:
            path = slerp(codes[0], codes[1], fractions)
        path_conditions = {"labels": conditions["labels"][0].expand(steps)} if conditions else {}
        return model.decode(path, **path_conditions)


def traverse(
    model: GenerativeModel,
    image: torch.Tensor,
    values: torch.Tensor | None = None,
    label: torch.Tensor | None = None,
) -> torch.Tensor:
    """One row per latent dimension: the image's code with that dimension swept over ``values``.

    Returns ``(latent_dim * len(values), C, H, W)``; default values are -3..3 prior standard deviations.
    """
    _require_latent_space(model)
    values = TRAVERSAL_VALUES if values is None else values
    conditions = _labels_for(model, None if label is None else label.reshape(1))
    with model.evaluating(), torch.no_grad():
        code = model.encode(image[None].to(model.device), **conditions)[0][0]
        latent_dim = code.numel()
        codes = code.repeat(latent_dim, len(values), 1)  # (latent_dim, n_values, latent_dim)
        for dimension in range(latent_dim):
            codes[dimension, :, dimension] = values.to(code.device)
        grid_conditions = {"labels": conditions["labels"].expand(latent_dim * len(values))} if conditions else {}
        return model.decode(codes.flatten(0, 1), **grid_conditions)

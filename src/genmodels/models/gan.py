"""The MLP generative adversarial network (Goodfellow et al., 2014), as in the founding example.

Generator: latent 100 -> Dense 128 ReLU -> Dense Tanh, reshaped to the image. Discriminator:
Dense 128 LeakyReLU(0.2) -> 1 logit, trained with the numerically stable logits loss
(``binary_cross_entropy_with_logits``), the generator with the non-saturating loss.
Images are in [0, 1] outside the model and in [-1, 1] inside it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn
from torch.nn import functional as F

from genmodels.models.base import Batch, GenerativeModel, ModelConfig, TrainingPhase, register_model


@dataclass
class GANConfig(ModelConfig):
    latent_dim: int = 100
    generator_hidden_dim: int = 128
    discriminator_hidden_dim: int = 128
    discriminator_steps: int = 1
    """Discriminator updates per generator update."""


@register_model("gan")
class GAN(GenerativeModel):
    """MLP GAN: an implicit model, so no ``log_prob``; ``score`` is the negated discriminator logit.

    The score is a heuristic: a discriminator separates real from generated data, not normal
    from anomalous, so it ranks anomalies only as well as it learned the data's support.
    """

    config_class = GANConfig
    recommended_training: ClassVar[dict[str, Any]] = {
        "learning_rate": 2e-4,
        "betas": (0.5, 0.999),
        "monitor": None,
    }

    def __init__(self, config: GANConfig) -> None:
        super().__init__(config)
        data_dim = math.prod(config.data_shape)
        self.generator = nn.Sequential(
            nn.Linear(config.latent_dim, config.generator_hidden_dim),
            nn.ReLU(),
            nn.Linear(config.generator_hidden_dim, data_dim),
            nn.Tanh(),
        )
        self.discriminator = nn.Sequential(
            nn.Flatten(),
            nn.Linear(data_dim, config.discriminator_hidden_dim),
            nn.LeakyReLU(0.2),
            nn.Linear(config.discriminator_hidden_dim, 1),
        )

    def training_phases(self) -> list[TrainingPhase]:
        return [
            TrainingPhase(
                "discriminator",
                "discriminator_loss",
                tuple(self.discriminator.parameters()),
                self.config.discriminator_steps,
            ),
            TrainingPhase("generator", "generator_loss", tuple(self.generator.parameters())),
        ]

    def generate(self, z: torch.Tensor) -> torch.Tensor:
        """Images in [-1, 1] for latent codes ``z`` of shape ``(batch, latent_dim)``."""
        return self.generator(z).view(-1, *self.config.data_shape)

    def discriminate(self, x: torch.Tensor) -> torch.Tensor:
        """Real-vs-generated logits for images in [-1, 1], ``(batch,)``."""
        return self.discriminator(x).squeeze(-1)

    def loss(self, batch: Batch, phase: str | None = None) -> dict[str, torch.Tensor]:
        real = self.check_input(batch["x"]) * 2.0 - 1.0
        z = torch.randn(real.shape[0], self.config.latent_dim, device=real.device, dtype=real.dtype)
        losses: dict[str, torch.Tensor] = {}
        if phase in (None, "discriminator"):
            with torch.no_grad():
                fake = self.generate(z)
            real_logits, fake_logits = self.discriminate(real), self.discriminate(fake)
            losses["discriminator_loss"] = F.binary_cross_entropy_with_logits(
                real_logits, torch.ones_like(real_logits)
            ) + F.binary_cross_entropy_with_logits(fake_logits, torch.zeros_like(fake_logits))
            losses["discriminator_accuracy"] = (
                0.5 * ((real_logits > 0).float().mean() + (fake_logits < 0).float().mean()).detach()
            )
        if phase in (None, "generator"):
            fake_logits = self.discriminate(self.generate(z))
            losses["generator_loss"] = F.binary_cross_entropy_with_logits(fake_logits, torch.ones_like(fake_logits))
        if not losses:
            raise ValueError(f"GAN has phases 'discriminator' and 'generator', not {phase!r}")
        if phase is None:
            # The sum is for logging and validation only; each optimizer follows its own loss.
            losses["loss"] = losses["discriminator_loss"] + losses["generator_loss"]
        return losses

    def _sample(self, n: int, generator: torch.Generator | None, **controls: Any) -> torch.Tensor:
        if controls:
            raise TypeError(f"GAN.sample takes no controls, got {', '.join(controls)}")
        z = torch.randn(n, self.config.latent_dim, generator=generator, device=self.device)
        return (self.generate(z) + 1.0) / 2.0

    def score(self, x: torch.Tensor) -> torch.Tensor:
        with self.evaluating():
            return -self.discriminate(self.check_input(x) * 2.0 - 1.0)

"""What every GAN shares, whatever its networks: losses, penalties, conditioning, EMA, truncation, health.

Subclasses build two networks: ``self.generator`` maps ``(batch, latent_dim + num_classes)``
(noise, then the one-hot label for a conditional GAN, i.e. label concatenation as in Mirza &
Osindero, 2014) to images in [-1, 1]; ``self.discriminator`` is an ``nn.Sequential`` whose last
layer is ``nn.Linear(features, 1)``, so a conditional GAN can add the projection term
``<embed(y), features>`` (Miyato & Koyama, 2018). Images are in [0, 1] outside the model and in
[-1, 1] inside it.

Losses (``loss``): ``nonsaturating`` (Goodfellow et al., 2014, with the numerically stable logits
loss), ``hinge`` (Lim & Ye, 2017; Miyato et al., 2018) and ``wasserstein`` (Arjovsky et al., 2017),
with a gradient penalty (Gulrajani et al., 2017) and/or an R1 penalty on real data (Mescheder et
al., 2018) as options. Sampling uses an exponential moving average of the generator's weights
when ``ema_decay`` > 0 (Karras et al., 2018; Yazici et al., 2019).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.parametrizations import spectral_norm

from genmodels.errors import ConfigError
from genmodels.io.validation import NonNegativeFloat, NonNegativeInt, PositiveInt
from genmodels.models.base import Batch, GenerativeModel, ModelConfig, TrainingPhase

GAN_LOSSES = ("nonsaturating", "hinge", "wasserstein")
PINNED_ACCURACY = 0.99
"""Discriminator accuracy at or above this on held-out data means the generator gets no useful gradient."""
EMA_MATURITY = 3
"""An EMA of decay d averages over about 1 / (1 - d) updates; before this many times that, it lags the generator."""
COLLAPSED_DIVERSITY = 0.5
"""Samples less than half as spread out as real data (mean pairwise distance) signal mode collapse."""
EXPLODED_GENERATOR_LOSS = 5.0
"""A generator loss this many times its lowest validation value (and above 2) signals divergence."""
UNHEALTHY_VALIDATIONS = 3
"""Consecutive validations a symptom must last before it is reported."""


@dataclass
class BaseGANConfig(ModelConfig):
    latent_dim: PositiveInt = 100
    loss: str = "nonsaturating"
    """``nonsaturating``, ``hinge`` or ``wasserstein``."""
    discriminator_steps: PositiveInt = 1
    """Discriminator (critic) updates per generator update: WGAN's n_critic."""
    gradient_penalty: NonNegativeFloat = 0.0
    """Weight of the WGAN-GP penalty (||grad D(x_hat)|| - 1)^2 on real/fake interpolates; 10 in the paper."""
    r1_penalty: NonNegativeFloat = 0.0
    """gamma of the R1 penalty gamma/2 ||grad D(x_real)||^2."""
    spectral_norm: bool = False
    """Spectral normalisation of every discriminator weight (Miyato et al., 2018)."""
    ema_decay: NonNegativeFloat = 0.0
    """Above 0, sample from an exponential moving average of the generator's weights (e.g. 0.999)."""
    num_classes: NonNegativeInt = 0
    """Above 0, a conditional GAN: one-hot labels join the noise, and the discriminator projects them."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.loss not in GAN_LOSSES:
            raise ConfigError(f"loss must be one of {', '.join(GAN_LOSSES)}, got {self.loss!r}")
        if self.latent_dim < 1 or self.discriminator_steps < 1 or self.num_classes < 0:
            raise ConfigError("latent_dim and discriminator_steps must be at least 1, num_classes not negative")
        if self.gradient_penalty < 0 or self.r1_penalty < 0:
            raise ConfigError("gradient_penalty and r1_penalty must not be negative")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ConfigError(f"ema_decay must be in [0, 1), got {self.ema_decay}")


class BaseGAN(GenerativeModel):
    """A GAN: an implicit model, so no ``log_prob``.

    ``score(x)`` is the negated discriminator (critic) output, a heuristic anomaly score: a
    discriminator separates real from generated data, not normal from anomalous, so it ranks
    anomalies only as well as it learned the data's support.
    """

    config_class = BaseGANConfig
    score_is_nll = False
    sampling_controls: ClassVar[tuple[str, ...]] = ("labels", "truncation", "use_ema")
    conditioning_parts: ClassVar[tuple[str, ...]] = ("label_projection",)
    recommended_training: ClassVar[dict[str, Any]] = {"learning_rate": 2e-4, "betas": (0.5, 0.999), "monitor": None}

    def build_networks(self) -> None:
        """Called by subclasses after building ``generator`` and ``discriminator``."""
        config = self.config
        if not isinstance(self.discriminator, nn.Sequential) or not isinstance(self.discriminator[-1], nn.Linear):
            raise TypeError("the discriminator must be an nn.Sequential ending in nn.Linear(features, 1)")
        if config.spectral_norm:
            for module in list(self.discriminator.modules()):
                if isinstance(module, (nn.Linear, nn.Conv2d)):
                    spectral_norm(module)
        if config.num_classes:
            self.label_projection = nn.Embedding(config.num_classes, self.discriminator[-1].in_features)
            nn.init.normal_(self.label_projection.weight, std=0.02)
        if config.ema_decay > 0:
            self.generator_ema = copy.deepcopy(self.generator).requires_grad_(False)
            self.register_buffer("ema_updates", torch.zeros((), dtype=torch.long))

    @property
    def is_conditional(self) -> bool:
        return self.config.num_classes > 0

    def training_phases(self) -> list[TrainingPhase]:
        discriminator_parameters = [*self.discriminator.parameters()]
        if self.is_conditional:
            discriminator_parameters += [*self.label_projection.parameters()]
        return [
            TrainingPhase(
                "discriminator",
                "discriminator_loss",
                tuple(discriminator_parameters),
                self.config.discriminator_steps,
            ),
            TrainingPhase("generator", "generator_loss", tuple(self.generator.parameters())),
        ]

    # --- the two players ------------------------------------------------------------------
    def _one_hot(self, labels: torch.Tensor | None, batch_size: int) -> torch.Tensor | None:
        """Validated one-hot labels for a conditional GAN; None for an unconditional one."""
        if not self.is_conditional:
            if labels is not None:
                raise ConfigError("this GAN is not conditional (num_classes = 0); do not pass labels")
            return None
        classes = self.config.num_classes
        if labels is None:
            raise ConfigError(f"this conditional GAN needs labels (integers in 0..{classes - 1})")
        labels = torch.as_tensor(labels, device=self.device).long()
        if labels.shape != (batch_size,) or labels.min() < 0 or labels.max() >= classes:
            raise ConfigError(
                f"labels must be {batch_size} integers in 0..{classes - 1}, got shape {tuple(labels.shape)}"
            )
        return F.one_hot(labels, classes).to(torch.get_default_dtype())

    def generate(self, z: torch.Tensor, labels: torch.Tensor | None = None, use_ema: bool = False) -> torch.Tensor:
        """Images in [-1, 1] for latent codes ``z`` of shape ``(batch, latent_dim)``."""
        one_hot = self._one_hot(labels, z.shape[0])
        inputs = z if one_hot is None else torch.cat([z, one_hot], dim=1)
        network = self.generator_ema if use_ema else self.generator
        return network(inputs).view(-1, *self.config.data_shape)

    def discriminate(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Real-vs-generated logits (critic values for the Wasserstein loss) for images in [-1, 1], ``(batch,)``."""
        one_hot = self._one_hot(labels, x.shape[0])
        features = self.discriminator[:-1](x)
        output = self.discriminator[-1](features).squeeze(-1)
        if one_hot is not None:
            output = output + (one_hot @ self.label_projection.weight * features).sum(-1)
        return output

    def latent_noise(
        self, n: int, generator: torch.Generator | None = None, truncation: float | None = None
    ) -> torch.Tensor:
        """Standard normal codes; with ``truncation`` t, a normal truncated to [-t, t] (Brock et al., 2019).

        Drawn by inverting the normal CDF on the truncated range, so it is exact and batched.
        """
        shape = (n, self.config.latent_dim)
        if truncation is None:
            return torch.randn(shape, generator=generator, device=self.device)
        if truncation <= 0:
            raise ConfigError(f"truncation must be positive, got {truncation}")
        low = torch.special.ndtr(torch.tensor(-float(truncation), dtype=torch.float64))
        uniform = torch.rand(shape, generator=generator, device=self.device, dtype=torch.float64)
        return torch.special.ndtri(low + uniform * (1 - 2 * low)).to(torch.get_default_dtype())

    # --- training -------------------------------------------------------------------------
    def loss(self, batch: Batch, phase: str | None = None) -> dict[str, torch.Tensor]:
        if phase not in (None, "discriminator", "generator"):
            raise ConfigError(f"a GAN has phases 'discriminator' and 'generator', not {phase!r}")
        real = self.check_input(batch["x"]) * 2.0 - 1.0
        labels = batch.get("y") if self.is_conditional else None
        if self.is_conditional and labels is None:
            raise ConfigError("a conditional GAN trains on labelled data: the batch has no 'y'")
        z = self.latent_noise(real.shape[0])
        losses: dict[str, torch.Tensor] = {}
        if phase in (None, "discriminator"):
            losses.update(self._discriminator_losses(real, z, labels))
        if phase in (None, "generator"):
            fake_output = self.discriminate(self.generate(z, labels), labels)
            if self.config.loss == "nonsaturating":
                losses["generator_loss"] = F.binary_cross_entropy_with_logits(fake_output, torch.ones_like(fake_output))
            else:
                losses["generator_loss"] = -fake_output.mean()
        if phase is None:
            # The sum is for logging only; each optimizer follows its own loss.
            losses["loss"] = losses["discriminator_loss"] + losses["generator_loss"]
        return losses

    def _discriminator_losses(
        self, real: torch.Tensor, z: torch.Tensor, labels: torch.Tensor | None
    ) -> dict[str, torch.Tensor]:
        config = self.config
        with torch.no_grad():
            fake = self.generate(z, labels)
        real = real.detach().requires_grad_(config.r1_penalty > 0)
        penalised = config.gradient_penalty > 0 or config.r1_penalty > 0
        # penalties need input gradients, also during validation
        with torch.set_grad_enabled(torch.is_grad_enabled() or penalised):
            real_output, fake_output = self.discriminate(real, labels), self.discriminate(fake, labels)
            if config.loss == "nonsaturating":
                loss = F.binary_cross_entropy_with_logits(
                    real_output, torch.ones_like(real_output)
                ) + F.binary_cross_entropy_with_logits(fake_output, torch.zeros_like(fake_output))
            elif config.loss == "hinge":
                loss = F.relu(1.0 - real_output).mean() + F.relu(1.0 + fake_output).mean()
            else:
                loss = fake_output.mean() - real_output.mean()
            if config.loss == "wasserstein":  # a critic has no decision threshold, so no accuracy
                losses = {"wasserstein_estimate": real_output.mean() - fake_output.mean()}
            else:
                accuracy = 0.5 * ((real_output > 0).float().mean() + (fake_output < 0).float().mean())
                losses = {"discriminator_accuracy": accuracy}
            if config.gradient_penalty > 0:
                penalty = self._gradient_penalty(real.detach(), fake, labels)
                losses["gradient_penalty"] = penalty
                loss = loss + config.gradient_penalty * penalty
            if config.r1_penalty > 0:
                (gradient,) = torch.autograd.grad(real_output.sum(), real, create_graph=self.training)
                penalty = gradient.pow(2).flatten(1).sum(1).mean()
                losses["r1_penalty"] = penalty
                loss = loss + 0.5 * config.r1_penalty * penalty
        losses["discriminator_loss"] = loss
        return {name: value if name == "discriminator_loss" else value.detach() for name, value in losses.items()}

    def _gradient_penalty(self, real: torch.Tensor, fake: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        weight = torch.rand(real.shape[0], *[1] * (real.dim() - 1), device=real.device, dtype=real.dtype)
        interpolates = (weight * real + (1 - weight) * fake).requires_grad_(True)
        (gradient,) = torch.autograd.grad(
            self.discriminate(interpolates, labels).sum(), interpolates, create_graph=self.training
        )
        return (gradient.flatten(1).norm(dim=1) - 1.0).pow(2).mean()

    def after_optimizer_step(self, phase: str) -> None:
        """Move the EMA generator towards the trained one, with the usual warm-up of the decay."""
        if phase != "generator" or self.config.ema_decay <= 0:
            return
        self.ema_updates += 1
        updates = float(self.ema_updates)
        decay = min(self.config.ema_decay, (1.0 + updates) / (10.0 + updates))
        with torch.no_grad():
            for average, current in zip(self.generator_ema.parameters(), self.generator.parameters(), strict=True):
                average.lerp_(current, 1.0 - decay)
            for average, current in zip(self.generator_ema.buffers(), self.generator.buffers(), strict=True):
                average.copy_(current)

    # --- watching training ----------------------------------------------------------------
    def diagnostics(self, batch: Batch) -> dict[str, float]:
        """Sample diversity: mean pairwise distance of generated images over that of real ones."""
        real = self.check_input(batch["x"][:500])
        labels = batch["y"][: len(real)] if self.is_conditional else None
        fake = (self.generate(self.latent_noise(len(real)), labels) + 1.0) / 2.0
        spread = torch.pdist(fake.flatten(1)).mean() / torch.pdist(real.flatten(1)).mean().clamp_min(1e-12)
        return {"sample_diversity": float(spread)}

    def check_training_health(self, validations: Sequence[Mapping[str, float]]) -> list[str]:
        """Warnings when the last validations show divergence or mode collapse; each starts with its kind."""
        recent = validations[-UNHEALTHY_VALIDATIONS:]
        if len(recent) < UNHEALTHY_VALIDATIONS:
            return []
        warnings = []
        if all(row.get("sample_diversity", 1.0) < COLLAPSED_DIVERSITY for row in recent):
            warnings.append(
                f"mode collapse: generated samples are only {recent[-1]['sample_diversity']:.2f} times as "
                "spread out as real data"
            )
        if self.config.loss != "wasserstein":
            if all(row["discriminator_accuracy"] >= PINNED_ACCURACY for row in recent):
                warnings.append(
                    "discriminator won (divergence): it separates real from generated data perfectly, "
                    "so the generator gets no useful gradient"
                )
            lowest = min(row["generator_loss"] for row in validations)
            if all(row["generator_loss"] > max(2.0, EXPLODED_GENERATOR_LOSS * lowest) for row in recent):
                warnings.append(
                    f"generator loss exploded (divergence): {recent[-1]['generator_loss']:.3g} (lowest {lowest:.3g})"
                )
        return warnings

    def untrained_signs(self, validation: Mapping[str, float]) -> list[str]:
        """A discriminator that still tells every generated image apart, and an EMA generator younger than its decay."""
        signs = []
        accuracy = validation.get("discriminator_accuracy")
        if accuracy is not None and accuracy >= PINNED_ACCURACY:
            signs.append(
                f"discriminator accuracy {accuracy:.2f} at the end: it tells every generated image from a real "
                "one, so the generator does not yet produce realistic images; train longer"
            )
        if self.config.ema_decay > 0:
            horizon = 1.0 / (1.0 - self.config.ema_decay)
            updates = int(self.ema_updates)
            if updates < EMA_MATURITY * horizon:
                signs.append(
                    f"the EMA generator (ema_decay {self.config.ema_decay:g}, an average over about {horizon:.0f} "
                    f"updates) has had {updates}, fewer than {EMA_MATURITY * horizon:.0f}: its samples lag far "
                    "behind the generator; train longer, lower model.ema_decay, or sample with use_ema=False"
                )
        return signs

    # --- generation and scoring -----------------------------------------------------------
    def _sample(
        self,
        n: int,
        generator: torch.Generator | None,
        labels: torch.Tensor | int | None = None,
        truncation: float | None = None,
        use_ema: bool | None = None,
    ) -> torch.Tensor:
        """Controls: ``labels`` (conditional GANs: one per sample, one for all, or drawn uniformly when
        omitted), ``truncation`` and ``use_ema`` (default: when trained with EMA)."""
        if use_ema is None:
            use_ema = self.config.ema_decay > 0
        if use_ema and self.config.ema_decay <= 0:
            raise ConfigError("this GAN keeps no EMA generator (ema_decay = 0)")
        if self.is_conditional:
            if labels is None:
                labels = torch.randint(self.config.num_classes, (n,), generator=generator, device=self.device)
            labels = torch.as_tensor(labels, device=self.device).long().expand(n)
        z = self.latent_noise(n, generator, truncation)
        return (self.generate(z, labels, use_ema=use_ema) + 1.0) / 2.0

    def score(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """The negated discriminator or critic output: a heuristic anomaly score, not an NLL."""
        with self.evaluating(), torch.no_grad():
            return -self.discriminate(self.check_input(x) * 2.0 - 1.0, labels)

    def anomaly_scores(self) -> dict[str, Callable[[torch.Tensor], torch.Tensor]]:
        """Only ``critic``: a GAN has no likelihood to offer as ``nll``."""
        return {"critic": self.score}

"""What every denoising model shares: the network, data scaling, EMA, guidance, samplers, likelihood, scores.

A subclass names its noise path (:mod:`~genmodels.models.diffusion.paths`), its training loss, and
how the network's output becomes estimates of the data and the noise in a noisy input
(``predict``). Images in [0, 1] are mapped to [-1, 1] inside the model; vectors are standardised
with the first training batch's mean and standard deviation.

Sampling uses an exponential moving average of the network's weights (as in DDPM and EDM) when
``ema_decay`` > 0; it lives in the model's state, so checkpoints, ``--resume`` and
``save_pretrained`` carry it like any weight. Class-conditional models drop the label with
probability ``label_dropout`` while training, so one network also learns the unconditional
model, and sample with classifier-free guidance (Ho & Salimans, 2021):
prediction = unconditional + w (conditional - unconditional); w = 0 is unconditional, w = 1 conditional.
"""

from __future__ import annotations

import copy
import math
from abc import abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn
from torch.nn.utils import parametrize

from genmodels.errors import ConfigError
from genmodels.io.validation import NonNegativeFloat, NonNegativeInt, PositiveFloat, PositiveInt, Sizes, UnitInterval
from genmodels.models.base import Batch, GenerativeModel, ModelConfig, TrainingPhase, evaluation_result
from genmodels.models.diffusion.networks import GROUPS, PointMLP, UNet
from genmodels.models.diffusion.paths import NoisePath
from genmodels.models.diffusion.solvers import (
    SAMPLERS,
    network_evaluations,
    ode_log_prob,
    sample_adaptive,
    sample_fixed_steps,
    velocity_of,
)

EXACT_DIVERGENCE_DIMENSIONS = 16
"""Up to this many dimensions ``log_prob`` takes the exact divergence; above, Hutchinson's estimator."""
ANOMALY_TIMES = (0.1, 0.3, 0.5)
"""Fractions of the way from data to noise at which the ``denoising`` anomaly score adds up the error."""
EMA_MATURITY = 3
"""An EMA of decay d averages over about 1 / (1 - d) updates; before this many times that, it lags the network."""
QUANTIZATION_LEVELS = 256
"""Images are taken as 8-bit: ``log_prob`` dequantizes them with uniform noise over one level."""


@dataclass
class DenoisingConfig(ModelConfig):
    widths: Sizes = (32, 64, 64)
    """U-Net channels per resolution (images); each resolution after the first halves the side."""
    blocks_per_level: PositiveInt = 1
    attention: bool = True
    """Self-attention at the U-Net's lowest resolution."""
    hidden_dim: PositiveInt = 256
    """Width of the MLP (vectors)."""
    depth: PositiveInt = 3
    """Hidden layers of the MLP (vectors)."""
    num_classes: NonNegativeInt = 0
    """Above 0, class-conditional with classifier-free guidance."""
    label_dropout: UnitInterval = 0.1
    """Probability that a training label is replaced by "no label" (conditional models)."""
    ema_decay: UnitInterval = 0.999
    """Above 0, sample from an exponential moving average of the weights; must be below 1."""
    sampler: str = "heun"
    """Default sampler: euler (= ddim), heun or adaptive."""
    steps: PositiveInt = 16
    """Default steps of the fixed-step samplers."""
    guidance: NonNegativeFloat = 1.0
    """Default guidance weight of a conditional model (1: plain conditional)."""
    ode_tolerance: PositiveFloat = 1e-5
    """Relative and absolute tolerance of the adaptive solver and of the likelihood ODE."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.ema_decay >= 1.0:
            raise ConfigError(f"ema_decay must be below 1, got {self.ema_decay}")
        if self.sampler not in SAMPLERS:
            raise ConfigError(f"sampler must be one of {', '.join(SAMPLERS)}, got {self.sampler!r}")
        if len(self.data_shape) == 3:
            factor = 2 ** (len(self.widths) - 1)
            if self.data_shape[1] % factor or self.data_shape[2] % factor:
                raise ConfigError(
                    f"image side {tuple(self.data_shape[1:])} must be divisible by 2**(len(widths) - 1) = {factor}; "
                    "use fewer widths or resize the data"
                )
            if any(width % GROUPS for width in self.widths):
                raise ConfigError(f"every U-Net width must be a multiple of {GROUPS}, got widths {self.widths}")
        elif len(self.data_shape) != 1:
            raise ConfigError(
                f"a denoising model takes images (channels, height, width) or vectors (features,), "
                f"got data_shape {tuple(self.data_shape)}"
            )


class DenoisingModel(GenerativeModel):
    """Base of the diffusion family: a network, a noise path, and everything computed from the two."""

    config_class = DenoisingConfig
    sampling_controls: ClassVar[tuple[str, ...]] = ("labels", "guidance", "steps", "sampler", "use_ema")
    log_prob_kind: ClassVar[str] = "hutchinson"
    """``hutchinson`` (an unbiased trace estimate in the likelihood ODE); a model of up to 16 dimensions
    sets ``exact`` (exact divergence) on itself."""
    conditioning_parts: ClassVar[tuple[str, ...]] = (
        "network.embed.label_embedding",
        "network_ema.embed.label_embedding",
    )
    lora_targets: ClassVar[tuple[str, ...]] = ("network.*",)
    recommended_data: ClassVar[dict[str, Any]] = {"binarize": False}
    recommended_training: ClassVar[dict[str, Any]] = {
        "learning_rate": 1e-3,
        "monitor": None,
        "val_every": 500,
        "sample_grid_every": 2,
    }
    path: NoisePath

    def __init__(self, config: DenoisingConfig) -> None:
        super().__init__(config)
        classes = config.num_classes
        if self.is_image:
            self.network: nn.Module = UNet(
                config.data_shape[0], tuple(config.widths), config.blocks_per_level, config.attention, classes
            )
        else:
            self.network = PointMLP(config.data_shape[0], config.hidden_dim, config.depth, classes)
            self.register_buffer("shift", torch.zeros(config.data_shape[0]))
            self.register_buffer("scale", torch.ones(config.data_shape[0]))
            self.register_buffer("normalization_fitted", torch.tensor(False))
        if config.ema_decay > 0:
            self.network_ema = copy.deepcopy(self.network).requires_grad_(False)
            self.register_buffer("ema_updates", torch.zeros((), dtype=torch.long))
        if math.prod(config.data_shape) <= EXACT_DIVERGENCE_DIMENSIONS:
            self.log_prob_kind = "exact"  # type: ignore[misc]
        self.last_evaluations = 0
        """Network evaluations of the last ``sample`` call (guidance's doubled batch counts once)."""

    @property
    def is_image(self) -> bool:
        return len(self.config.data_shape) == 3

    @property
    def is_conditional(self) -> bool:
        return self.config.num_classes > 0

    def training_phases(self) -> list[TrainingPhase]:
        """One optimizer over the network; the EMA copy follows it and is never trained."""
        return [TrainingPhase("model", "loss", tuple(self.network.parameters()))]

    # --- data scale ---------------------------------------------------------------------------
    def to_model_space(self, x: torch.Tensor) -> torch.Tensor:
        """Images [0, 1] -> [-1, 1]; vectors standardised."""
        if self.is_image:
            return x * 2.0 - 1.0
        return (x - self.shift) / self.scale

    def from_model_space(self, z: torch.Tensor) -> torch.Tensor:
        if self.is_image:
            return ((z + 1.0) / 2.0).clamp(0.0, 1.0)
        return z * self.scale + self.shift

    def log_scale_jacobian(self) -> float:
        """log |d model space / d data space|, added to a model-space log-density."""
        if self.is_image:
            return math.prod(self.config.data_shape) * math.log(2.0)
        return -float(self.scale.log().sum())

    @torch.no_grad()
    def _fit_normalization(self, x: torch.Tensor) -> None:
        self.shift.copy_(x.mean(0))
        self.scale.copy_(x.std(0).clamp_min(1e-3) if len(x) > 1 else torch.ones_like(self.scale))
        self.normalization_fitted.fill_(True)

    # --- labels -------------------------------------------------------------------------------
    def check_labels(self, labels: torch.Tensor | int | None, n: int) -> torch.Tensor | None:
        """Labels as ``(n,)`` integers; None for an unconditional model, a clear error for a wrong request."""
        if not self.is_conditional:
            if labels is not None:
                raise ConfigError(
                    f"this {self.model_type} model is not conditional (num_classes = 0); do not pass labels"
                )
            return None
        if labels is None:
            raise ConfigError(f"this conditional model needs labels (integers in 0..{self.config.num_classes - 1})")
        labels = torch.as_tensor(labels, device=self.device).long()
        if labels.dim() == 0:
            labels = labels.expand(n)
        if labels.shape != (n,) or labels.min() < 0 or labels.max() >= self.config.num_classes:
            raise ConfigError(
                f"labels must be {n} integers in 0..{self.config.num_classes - 1}, got shape {tuple(labels.shape)}"
            )
        return labels

    def _training_labels(self, batch: Batch, n: int) -> torch.Tensor | None:
        """The batch's labels, each replaced by "no label" (index num_classes) with probability label_dropout."""
        if not self.is_conditional:
            return None
        if "y" not in batch:
            raise ConfigError("a conditional denoising model trains on labelled data: the batch has no 'y'")
        labels = self.check_labels(batch["y"], n)
        assert labels is not None
        dropped = torch.rand(n, device=labels.device) < self.config.label_dropout
        return torch.where(dropped, torch.full_like(labels, self.config.num_classes), labels)

    # --- the family's parts -------------------------------------------------------------------
    @abstractmethod
    def training_loss(self, x: torch.Tensor, labels: torch.Tensor | None) -> dict[str, torch.Tensor]:
        """Named losses for model-space data ``x``, ``"loss"`` among them."""

    @abstractmethod
    def estimates(self, output: torch.Tensor, x: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(data, noise)`` estimates from the network's ``output`` for noisy ``x`` at times ``t``."""

    @abstractmethod
    def network_input(self, x: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The network's ``(input, noise level)`` for noisy ``x`` at times ``t``."""

    def clip_denoised(self) -> bool:
        """Whether samplers clip the data estimate to the data range (DDIM's practice for noise predictions)."""
        return False

    # --- predictions ------------------------------------------------------------------------------
    def predictor(
        self, labels: torch.Tensor | None = None, guidance: float = 1.0, use_ema: bool = True, clip: bool = False
    ) -> Callable[[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
        """``(x, t) -> (data, noise)`` with the EMA or raw network, guided when ``guidance`` != 1."""
        network = self.network_ema if use_ema else self.network
        null = None if labels is None else torch.full_like(labels, self.config.num_classes)

        def predict(x: torch.Tensor, t: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
            inputs, level = self.network_input(x, t)
            if labels is None or guidance == 1.0:
                output = network(inputs, level, labels)
            elif guidance == 0.0:
                output = network(inputs, level, null)
            else:
                both = network(inputs.repeat(2, *[1] * (x.dim() - 1)), level.repeat(2), torch.cat([labels, null]))
                conditional, unconditional = both.chunk(2)
                output = unconditional + guidance * (conditional - unconditional)
            denoised, noise = self.estimates(output, x, t)
            if clip:
                denoised = denoised.clamp(-1.0, 1.0)
            return denoised, noise

        return predict

    # --- training ---------------------------------------------------------------------------------
    def loss(self, batch: Batch, phase: str | None = None) -> dict[str, torch.Tensor]:
        x = self.check_input(batch["x"])
        if not self.is_image and self.training and not bool(self.normalization_fitted):
            self._fit_normalization(x)
        return self.training_loss(self.to_model_space(x), self._training_labels(batch, len(x)))

    @property
    def uses_ema(self) -> bool:
        """Whether sampling uses the EMA network: kept, and not bypassed by LoRA adapters on the network.

        LoRA adapts the network's weights through parametrizations the EMA copy does not have, so an
        adapted model samples with its adapted network and leaves the average as it was.
        """
        adapted = any(parametrize.is_parametrized(module) for module in self.network.modules())
        return self.config.ema_decay > 0 and not adapted

    def after_optimizer_step(self, phase: str) -> None:
        """Move the EMA network towards the trained one, the decay warmed up as (1 + n) / (10 + n)."""
        if not self.uses_ema:
            return
        self.ema_updates += 1
        updates = float(self.ema_updates)
        decay = min(self.config.ema_decay, (1.0 + updates) / (10.0 + updates))
        with torch.no_grad():
            averages, current = list(self.network_ema.parameters()), list(self.network.parameters())
            torch._foreach_lerp_(averages, current, 1.0 - decay)

    def untrained_signs(self, validation: Mapping[str, float]) -> list[str]:
        """An EMA network younger than a few times its averaging horizon."""
        if not self.uses_ema:
            return []
        horizon = 1.0 / (1.0 - self.config.ema_decay)
        updates = int(self.ema_updates)
        if updates >= EMA_MATURITY * horizon:
            return []
        return [
            f"the EMA network (ema_decay {self.config.ema_decay:g}, an average over about {horizon:.0f} updates) "
            f"has had {updates}, fewer than {EMA_MATURITY * horizon:.0f}: its samples lag behind the network; "
            "train longer, lower model.ema_decay, or sample with use_ema=False"
        ]

    # --- sampling ---------------------------------------------------------------------------------
    def _sample(
        self,
        n: int,
        generator: torch.Generator | None,
        labels: torch.Tensor | int | None = None,
        guidance: float | None = None,
        steps: int | None = None,
        sampler: str | None = None,
        use_ema: bool | None = None,
    ) -> torch.Tensor:
        """Controls: ``labels`` (conditional models: one per sample, one for all, or drawn uniformly when
        omitted), ``guidance`` weight, ``steps`` and ``sampler`` (euler, ddim, heun, adaptive; defaults from
        the config) and ``use_ema`` (default: when trained with EMA)."""
        config = self.config
        if guidance is not None and not self.is_conditional:
            raise ConfigError("guidance needs a class-conditional model (num_classes > 0)")
        sampler = config.sampler if sampler is None else sampler
        steps = config.steps if steps is None else int(steps)
        guidance = config.guidance if guidance is None else float(guidance)
        if sampler not in SAMPLERS:
            raise ConfigError(f"sampler must be one of {', '.join(SAMPLERS)}, got {sampler!r}")
        if steps < 1:
            raise ConfigError(f"steps must be at least 1, got {steps}")
        if guidance < 0:
            raise ConfigError(f"guidance must not be negative, got {guidance}")
        use_ema = self.uses_ema if use_ema is None else use_ema
        if use_ema and not self.uses_ema:
            raise ConfigError(
                f"this {self.model_type} model samples without EMA (ema_decay = 0, or LoRA adapts its network)"
            )
        draw_device = generator.device if generator is not None else torch.device("cpu")
        if self.is_conditional and labels is None:
            labels = torch.randint(config.num_classes, (n,), generator=generator, device=draw_device)
        labels = self.check_labels(labels, n)
        predict = self.predictor(labels, guidance, use_ema, clip=self.clip_denoised() and self.is_image)
        _, b = self.path.coefficients(torch.tensor(self.path.noise_end))
        noise = torch.randn(n, *config.data_shape, generator=generator, device=draw_device)
        x = noise.to(self.device) * float(b)
        if sampler == "adaptive":
            x, self.last_evaluations = sample_adaptive(self.path, predict, x, config.ode_tolerance)
        else:
            x = sample_fixed_steps(self.path, predict, x, steps, sampler)
            self.last_evaluations = network_evaluations(sampler, steps)
        return self.from_model_space(x)

    # --- likelihood and scores --------------------------------------------------------------------
    def log_prob(
        self, x: torch.Tensor, labels: torch.Tensor | None = None, generator: torch.Generator | None = None
    ) -> torch.Tensor:
        """log p(x) in nats through the probability-flow ODE with the sampling network, ``(batch,)``.

        Images are taken as 8-bit: uniform dequantization over one level, so the value is a stochastic
        lower bound on the log-probability of the discrete image (bits/dim comparable with PixelCNN's).
        Vectors get the continuous density. The dequantization noise and Hutchinson's probes come from
        ``generator`` (default: seed 0), so the same rows give the same values.
        """
        x = self.check_input(x)
        if generator is None:
            generator = torch.Generator(device=x.device).manual_seed(0)
        if self.is_conditional and labels is None:
            raise ConfigError("a conditional model's log_prob needs labels")
        labels = self.check_labels(labels, len(x)) if labels is not None else None
        if self.is_image:
            uniform = torch.rand(x.shape, generator=generator, device=x.device)
            x = ((x * (QUANTIZATION_LEVELS - 1)).round() + uniform) / QUANTIZATION_LEVELS
        with self.evaluating():
            predict = self.predictor(labels, 1.0, use_ema=self.uses_ema)
            _, noise_scale = self.path.coefficients(torch.tensor(self.path.noise_end, dtype=torch.float64))
            log_density = ode_log_prob(
                self.path,
                velocity_of(self.path, predict),
                self.to_model_space(x),
                float(noise_scale),
                exact_divergence=self.log_prob_kind == "exact",
                tolerance=self.config.ode_tolerance,
                generator=generator,
            )
        log_density = log_density + self.log_scale_jacobian()
        if self.is_image:
            log_density = log_density - math.prod(self.config.data_shape) * math.log(QUANTIZATION_LEVELS)
        return log_density.detach()

    @evaluation_result
    def denoising_error(self, x: torch.Tensor) -> torch.Tensor:
        """The cheaper anomaly score: squared error of the data estimate summed over pixels, averaged over
        noise levels a tenth, three tenths and half of the way to noise, with fixed noise (seed 0); ``(batch,)``.

        Typical inputs are denoised well; unusual ones less so (as in Graham et al., 2023, without the
        reconstruction chain). Three network evaluations instead of an ODE solve.
        """
        z = self.to_model_space(self.check_input(x))
        generator = torch.Generator(device=z.device).manual_seed(0)
        null = torch.full((len(z),), self.config.num_classes, device=z.device) if self.is_conditional else None
        predict = self.predictor(null, use_ema=self.uses_ema)
        errors = []
        with self.evaluating():
            for fraction in ANOMALY_TIMES:
                time = self.path.data_end + fraction * (self.path.noise_end - self.path.data_end)
                t = torch.full((len(z),), time, device=z.device)
                a, b = (float(value) for value in self.path.coefficients(torch.tensor(time)))
                noisy = a * z + b * torch.randn(z.shape, generator=generator, device=z.device)
                denoised, _ = predict(noisy, t)
                errors.append((denoised - z).flatten(1).square().sum(1))
        return torch.stack(errors).mean(0)

    def anomaly_scores(self) -> dict[str, Callable[[torch.Tensor], torch.Tensor]]:
        """``nll`` (the ODE likelihood; costly), ``input_complexity`` for images, and ``denoising`` (cheap)."""
        return {**super().anomaly_scores(), "denoising": self.denoising_error}

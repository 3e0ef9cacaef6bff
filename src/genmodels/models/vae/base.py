"""Variational autoencoders (Kingma & Welling, 2014) and what makes their numbers honest.

One base class holds everything that does not depend on the networks: the observation
likelihood, the ELBO with an optional beta weight and KL warm-up (Higgins et al., 2017;
Bowman et al., 2016), the importance-weighted bound used both as a training objective and as the
``log_prob`` estimate (Burda et al., 2016), conditioning on class labels (Sohn et al., 2015) and the
posterior-collapse diagnostics. Subclasses only build an encoder trunk and a decoder.

Observation likelihoods, chosen explicitly:

- ``bernoulli``: for binarized data only (values exactly 0 or 1); a probability mass, so
  ``log_prob`` converts to bits per dimension.
- ``continuous_bernoulli``: a normalised density on [0, 1] (Loaiza-Ganem & Cunningham, 2019) for grey levels.
- ``gaussian``: a Gaussian per pixel with a learned log-scale per pixel, for grey levels.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn
from torch.distributions import ContinuousBernoulli
from torch.nn import functional as F

from genmodels.errors import ConfigError
from genmodels.io.validation import ImportanceSamples, NonNegativeFloat, NonNegativeInt, PositiveInt
from genmodels.models.base import Batch, GenerativeModel, ModelConfig, evaluation_result
from genmodels.nn.gaussian import (
    gaussian_kl_per_dim,
    importance_weighted_bound,
    kl_warmup_weight,
    posterior_samples,
    reparameterize,
)

LIKELIHOODS = ("bernoulli", "continuous_bernoulli", "gaussian")
OBJECTIVES = ("elbo", "iwae")
ACTIVE_UNIT_THRESHOLD = 0.01
"""A latent unit is active when Cov_x(E_q[z_u | x]) exceeds this (Burda et al., 2016, section 5.2)."""


@dataclass
class VAEConfig(ModelConfig):
    hidden_dim: PositiveInt = 512
    latent_dim: PositiveInt = 2
    likelihood: str = "bernoulli"
    beta: NonNegativeFloat = 1.0
    """Weight of the KL term (beta-VAE); 1 is the ELBO."""
    kl_warmup_steps: NonNegativeInt = 0
    """Raise the KL weight linearly from 0 to ``beta`` over this many training steps."""
    objective: str = "elbo"
    """``elbo``, or ``iwae``: the importance-weighted bound with ``train_importance_samples`` samples."""
    train_importance_samples: ImportanceSamples = 5
    importance_samples: ImportanceSamples = 1000
    """Samples of the importance-weighted ``log_prob`` estimate at evaluation."""
    num_classes: NonNegativeInt = 0
    """Above 0, a conditional VAE: labels enter the encoder heads and the decoder."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.likelihood not in LIKELIHOODS:
            raise ConfigError(f"likelihood must be one of {', '.join(LIKELIHOODS)}, got {self.likelihood!r}")
        if self.objective not in OBJECTIVES:
            raise ConfigError(f"objective must be one of {', '.join(OBJECTIVES)}, got {self.objective!r}")
        if self.beta < 0 or self.kl_warmup_steps < 0 or self.num_classes < 0:
            raise ConfigError("beta, kl_warmup_steps and num_classes must not be negative")
        if self.importance_samples < 1 or self.train_importance_samples < 1:
            raise ConfigError("importance sample counts must be at least 1")


class BaseVAE(GenerativeModel):
    """Base of the VAE family: ``log_prob`` is the importance-weighted estimate, ``elbo`` the standard bound."""

    config_class = VAEConfig
    log_prob_kind = "importance_weighted"
    part_aliases: ClassVar[dict[str, tuple[str, ...]]] = {"encoder": ("encoder", "z_mean", "z_log_var")}
    recommended_training: ClassVar[dict[str, Any]] = {"learning_rate": 1e-3, "monitor": "negative_elbo"}
    recommended_data: ClassVar[dict[str, Any]] = {"binarize": True}
    sampling_controls: ClassVar[tuple[str, ...]] = ("labels",)

    def __init__(self, config: VAEConfig) -> None:
        super().__init__(config)
        self.encoder = self.build_encoder()
        head_inputs = config.hidden_dim + config.num_classes
        self.z_mean = nn.Linear(head_inputs, config.latent_dim)
        self.z_log_var = nn.Linear(head_inputs, config.latent_dim)
        self.decoder = self.build_decoder(config.latent_dim + config.num_classes)
        if config.likelihood == "gaussian":
            self.log_scale = nn.Parameter(torch.zeros(math.prod(config.data_shape)))
        self.register_buffer("training_steps", torch.zeros((), dtype=torch.long))

    @abstractmethod
    def build_encoder(self) -> nn.Module:
        """Images ``(batch, *data_shape)`` to features ``(batch, hidden_dim)``."""

    @abstractmethod
    def build_decoder(self, input_dim: int) -> nn.Module:
        """Codes ``(batch, input_dim)`` to likelihood parameters ``(batch, prod(data_shape))``."""

    @property
    def is_conditional(self) -> bool:
        return self.config.num_classes > 0

    # --- latent space -----------------------------------------------------------------------
    def _condition(self, features: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        if not self.is_conditional:
            if labels is not None:
                raise ConfigError("this VAE is not conditional (num_classes = 0); do not pass labels")
            return features
        if labels is None:
            raise ConfigError(f"this conditional VAE needs labels (integers in 0..{self.config.num_classes - 1})")
        labels = torch.as_tensor(labels, device=features.device).long()
        if labels.shape != features.shape[:1] or labels.min() < 0 or labels.max() >= self.config.num_classes:
            raise ConfigError(
                f"labels must be {features.shape[0]} integers in 0..{self.config.num_classes - 1}, "
                f"got shape {tuple(labels.shape)}"
            )
        return torch.cat([features, F.one_hot(labels, self.config.num_classes).to(features.dtype)], dim=-1)

    def encode(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior parameters ``(z_mean, z_log_var)`` of q(z | x), each ``(batch, latent_dim)``."""
        features = self._condition(self.encoder(self.check_input(x)), labels)
        return self.z_mean(features), self.z_log_var(features)

    def _decoder_parameters(self, z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        """Likelihood parameters for codes ``z`` of shape ``(..., batch, latent_dim)``."""
        leading = z.shape[:-1]
        flat_z = z.reshape(-1, z.shape[-1])
        if labels is not None:
            labels = torch.as_tensor(labels, device=z.device).long().expand(*leading).reshape(-1)
        return self.decoder(self._condition(flat_z, labels)).view(*leading, -1)

    def decode(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """The decoder's mean image for each code, ``(batch, *data_shape)``, in [0, 1]."""
        parameters = self._decoder_parameters(z, labels)
        if self.config.likelihood == "continuous_bernoulli":
            mean = ContinuousBernoulli(logits=parameters).mean
        elif self.config.likelihood == "gaussian":
            mean = parameters.clamp(0.0, 1.0)
        else:
            mean = torch.sigmoid(parameters)
        return mean.view(-1, *self.config.data_shape)

    # --- likelihoods and bounds -----------------------------------------------------------------
    def _log_likelihood(self, x_flat: torch.Tensor, parameters: torch.Tensor) -> torch.Tensor:
        """log p(x | z) summed over dimensions; ``parameters`` may carry leading sample dimensions."""
        x_flat = x_flat.expand_as(parameters)
        if self.config.likelihood == "bernoulli":
            return -F.binary_cross_entropy_with_logits(parameters, x_flat, reduction="none").sum(-1)
        if self.config.likelihood == "continuous_bernoulli":
            return ContinuousBernoulli(logits=parameters).log_prob(x_flat).sum(-1)
        return torch.distributions.Normal(parameters, self.log_scale.exp()).log_prob(x_flat).sum(-1)

    def _flat_input(self, x: torch.Tensor) -> torch.Tensor:
        x_flat = self.check_input(x).flatten(1)
        if self.config.likelihood == "bernoulli" and not torch.all((x_flat == 0) | (x_flat == 1)):
            raise ConfigError(
                "the bernoulli likelihood needs binary data (every value 0 or 1); binarize the data "
                "(--binarize) or choose likelihood continuous_bernoulli or gaussian for grey levels"
            )
        return x_flat

    def elbo_terms(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Single-sample reconstruction log-likelihood ``(batch,)``, analytic KL per dimension ``(batch, latent)``."""
        x_flat = self._flat_input(x)
        z_mean, z_log_var = self.encode(x, labels)
        z = reparameterize(z_mean, z_log_var)
        reconstruction = self._log_likelihood(x_flat, self._decoder_parameters(z, labels))
        return {"reconstruction": reconstruction, "kl_per_dim": gaussian_kl_per_dim(z_mean, z_log_var)}

    @evaluation_result
    def elbo(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Evidence lower bound on log p(x) in nats, one reparameterised sample, ``(batch,)``."""
        terms = self.elbo_terms(x, labels)
        return terms["reconstruction"] - terms["kl_per_dim"].sum(-1)

    def log_importance_weights(
        self, x: torch.Tensor, n_samples: int, labels: torch.Tensor | None = None
    ) -> torch.Tensor:
        """log p(x, z_k) - log q(z_k | x) for ``n_samples`` posterior samples, ``(n_samples, batch)``."""
        x_flat = self._flat_input(x)
        z_mean, z_log_var = self.encode(x, labels)
        z, latent_log_weights = posterior_samples(z_mean, z_log_var, n_samples)  # z: (n_samples, batch, latent)
        return self._log_likelihood(x_flat, self._decoder_parameters(z, labels)) + latent_log_weights

    def importance_weighted_log_prob(
        self,
        x: torch.Tensor,
        n_samples: int | None = None,
        labels: torch.Tensor | None = None,
        max_elements: int = 2**24,
    ) -> torch.Tensor:
        """The IWAE estimate of log p(x) (Burda et al., 2016), ``(batch,)``: a lower bound that tightens with K.

        Samples are drawn in chunks so memory stays bounded by ``max_elements`` decoder outputs.
        """
        n_samples = n_samples or self.config.importance_samples
        chunk = max(1, max_elements // max(1, len(x) * math.prod(self.config.data_shape)))
        log_weights = torch.cat(
            [
                self.log_importance_weights(x, min(chunk, n_samples - start), labels)
                for start in range(0, n_samples, chunk)
            ]
        )
        return importance_weighted_bound(log_weights)

    def log_prob(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Importance-weighted estimate of log p(x) with ``config.importance_samples`` samples (eval mode)."""
        with self.evaluating(), torch.no_grad():
            return self.importance_weighted_log_prob(x, labels=labels)

    def kl_weight(self) -> float:
        """The KL weight now: ``beta``, ramped up linearly over ``kl_warmup_steps`` training steps."""
        return kl_warmup_weight(self.config.beta, int(self.training_steps), self.config.kl_warmup_steps)

    # --- interface ------------------------------------------------------------------------------
    def loss(self, batch: Batch, phase: str | None = None) -> dict[str, torch.Tensor]:
        labels = batch.get("y") if self.is_conditional else None
        if self.training and torch.is_grad_enabled():
            self.training_steps += 1
        if self.config.objective == "iwae":
            log_weights = self.log_importance_weights(batch["x"], self.config.train_importance_samples, labels)
            bound = importance_weighted_bound(log_weights)
            # the mean log-weight is an unbiased estimate of the ELBO
            return {"loss": -bound.mean(), "negative_elbo": -log_weights.mean()}
        terms = self.elbo_terms(batch["x"], labels)
        kl = terms["kl_per_dim"].sum(-1)
        reconstruction = terms["reconstruction"]
        return {
            "loss": (self.kl_weight() * kl - reconstruction).mean(),
            "negative_elbo": (kl - reconstruction).mean(),
            "reconstruction": -reconstruction.mean(),
            "kl": kl.mean(),
        }

    def diagnostics(self, batch: Batch) -> dict[str, float]:
        """Active units and KL per latent dimension over a held-out set: posterior collapse made visible."""
        labels = batch.get("y") if self.is_conditional else None
        with self.evaluating(), torch.no_grad():
            posteriors = [
                self.encode(x, None if labels is None else labels[start : start + len(x)])
                for start, x in zip(range(0, len(batch["x"]), 1000), batch["x"].split(1000), strict=True)
            ]
        z_mean = torch.cat([mean for mean, _ in posteriors])
        z_log_var = torch.cat([log_var for _, log_var in posteriors])
        kl_per_dim = gaussian_kl_per_dim(z_mean, z_log_var).mean(0)
        activity = z_mean.var(0, unbiased=True) if len(z_mean) > 1 else torch.zeros_like(kl_per_dim)
        metrics = {"active_units": float((activity > ACTIVE_UNIT_THRESHOLD).sum())}
        metrics.update({f"kl_dim_{index}": float(value) for index, value in enumerate(kl_per_dim)})
        return metrics

    @evaluation_result
    def score(self, x: torch.Tensor) -> torch.Tensor:
        """Negative importance-weighted log-likelihood (unconditional models)."""
        return -self.log_prob(x)

    @evaluation_result
    def reconstruction_map(self, x: torch.Tensor) -> torch.Tensor:
        """Squared error per element between ``x`` and the decoded posterior mean: ``(batch, *data_shape)``."""
        z_mean, _ = self.encode(x)
        return (self.decode(z_mean) - self.check_input(x)).pow(2)

    def anomaly_scores(self) -> dict[str, Callable[[torch.Tensor], torch.Tensor]]:
        """``nll`` plus ``negative_elbo`` (single-sample, seeded by the caller) and ``reconstruction`` error."""
        scores = super().anomaly_scores()
        scores["negative_elbo"] = lambda x: -self.elbo(x)
        scores["reconstruction"] = lambda x: self.reconstruction_map(x).flatten(1).sum(1)
        return {
            name: scores[name]
            for name in ("nll", "negative_elbo", "reconstruction", "input_complexity")
            if name in scores
        }

    def _sample(
        self, n: int, generator: torch.Generator | None, labels: torch.Tensor | int | None = None
    ) -> torch.Tensor:
        """Decoder means of prior samples; a conditional VAE takes ``labels`` (one per sample, or one for all).

        Without labels, a conditional VAE draws them uniformly with the same generator.
        """
        if self.is_conditional:
            if labels is None:
                labels = torch.randint(self.config.num_classes, (n,), generator=generator, device=self.device)
            labels = torch.as_tensor(labels, device=self.device).long().expand(n)
        z = torch.randn(n, self.config.latent_dim, generator=generator, device=self.device)
        return self.decode(z, labels)

"""The MLP variational autoencoder (Kingma & Welling, 2014), as in the project's founding example.

Encoder: flatten -> Dense(hidden) ReLU -> (z_mean, z_log_var); decoder: Dense(hidden) ReLU ->
output reshaped to the image. The observation likelihood is an explicit choice:

- ``bernoulli``: for binarized data only (values exactly 0 or 1); a probability mass, so
  ``log_prob`` converts to bits per dimension.
- ``continuous_bernoulli``: a normalised density on [0, 1] (Loaiza-Ganem & Cunningham, 2019) for grey levels.
- ``gaussian``: a Gaussian per pixel with a learned log-scale per pixel, for grey levels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import nn
from torch.distributions import ContinuousBernoulli
from torch.nn import functional as F

from genmodels.models.base import Batch, GenerativeModel, ModelConfig, register_model

LIKELIHOODS = ("bernoulli", "continuous_bernoulli", "gaussian")


@dataclass
class VAEConfig(ModelConfig):
    hidden_dim: int = 512
    latent_dim: int = 2
    likelihood: str = "bernoulli"

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.likelihood not in LIKELIHOODS:
            raise ValueError(f"likelihood must be one of {', '.join(LIKELIHOODS)}, got {self.likelihood!r}")


@register_model("vae")
class VAE(GenerativeModel):
    """MLP VAE; ``log_prob`` is the evidence lower bound (ELBO), ``score`` the negative ELBO."""

    config_class = VAEConfig
    log_prob_kind = "elbo"
    recommended_training: ClassVar[dict[str, Any]] = {"learning_rate": 1e-3}
    recommended_data: ClassVar[dict[str, Any]] = {"binarize": True}

    def __init__(self, config: VAEConfig) -> None:
        super().__init__(config)
        data_dim = math.prod(config.data_shape)
        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(data_dim, config.hidden_dim), nn.ReLU())
        self.z_mean = nn.Linear(config.hidden_dim, config.latent_dim)
        self.z_log_var = nn.Linear(config.hidden_dim, config.latent_dim)
        self.decoder = nn.Sequential(
            nn.Linear(config.latent_dim, config.hidden_dim), nn.ReLU(), nn.Linear(config.hidden_dim, data_dim)
        )
        if config.likelihood == "gaussian":
            self.log_scale = nn.Parameter(torch.zeros(data_dim))

    # --- latent space ---------------------------------------------------------------------
    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior parameters ``(z_mean, z_log_var)``, each ``(batch, latent_dim)``."""
        hidden = self.encoder(self.check_input(x))
        return self.z_mean(hidden), self.z_log_var(hidden)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """The decoder's mean image for each latent code, ``(batch, *data_shape)``, in [0, 1]."""
        parameters = self.decoder(z)
        if self.config.likelihood == "continuous_bernoulli":
            mean = ContinuousBernoulli(logits=parameters).mean
        elif self.config.likelihood == "gaussian":
            mean = parameters.clamp(0.0, 1.0)
        else:
            mean = torch.sigmoid(parameters)
        return mean.view(-1, *self.config.data_shape)

    # --- likelihood -----------------------------------------------------------------------
    def _reconstruction_log_likelihood(self, x_flat: torch.Tensor, decoder_output: torch.Tensor) -> torch.Tensor:
        """log p(x | z) summed over dimensions, ``(batch,)``."""
        if self.config.likelihood == "bernoulli":
            return -F.binary_cross_entropy_with_logits(decoder_output, x_flat, reduction="none").sum(-1)
        if self.config.likelihood == "continuous_bernoulli":
            return ContinuousBernoulli(logits=decoder_output).log_prob(x_flat).sum(-1)
        normal = torch.distributions.Normal(decoder_output, self.log_scale.exp())
        return normal.log_prob(x_flat).sum(-1)

    def elbo_terms(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Single-sample reconstruction log-likelihood and analytic KL(q(z|x) || N(0, I)), each ``(batch,)``."""
        z_mean, z_log_var = self.encode(x)
        x_flat = x.flatten(1).to(z_mean.dtype)
        if self.config.likelihood == "bernoulli" and not torch.all((x_flat == 0) | (x_flat == 1)):
            raise ValueError(
                "the bernoulli likelihood needs binary data (every value 0 or 1); binarize the data "
                "(--binarize) or choose likelihood continuous_bernoulli or gaussian for grey levels"
            )
        z = z_mean + torch.exp(0.5 * z_log_var) * torch.randn_like(z_mean)
        reconstruction = self._reconstruction_log_likelihood(x_flat, self.decoder(z))
        kl = 0.5 * (z_mean.pow(2) + z_log_var.exp() - 1.0 - z_log_var).sum(-1)
        return reconstruction, kl

    def elbo(self, x: torch.Tensor) -> torch.Tensor:
        """Evidence lower bound on log p(x) in nats, one reparameterised sample, ``(batch,)``."""
        reconstruction, kl = self.elbo_terms(x)
        return reconstruction - kl

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """The ELBO: a lower bound on log p(x) (``log_prob_kind = "elbo"``)."""
        with self.evaluating():
            return self.elbo(x)

    # --- interface --------------------------------------------------------------------------
    def loss(self, batch: Batch, phase: str | None = None) -> dict[str, torch.Tensor]:
        reconstruction, kl = self.elbo_terms(batch["x"])
        return {
            "loss": (kl - reconstruction).mean(),
            "reconstruction": -reconstruction.mean(),
            "kl": kl.mean(),
        }

    def _sample(self, n: int, generator: torch.Generator | None, **controls: Any) -> torch.Tensor:
        if controls:
            raise TypeError(f"VAE.sample takes no controls, got {', '.join(controls)}")
        z = torch.randn(n, self.config.latent_dim, generator=generator, device=self.device)
        return self.decode(z)

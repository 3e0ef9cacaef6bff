"""The maths of a diagonal Gaussian posterior q(z | x) under a standard normal prior, shared by every VAE.

The reparameterised sample and the analytic KL come from Kingma & Welling (2014), the
importance-weighted bound from Burda et al. (2016), the KL warm-up from Bowman et al. (2016).
"""

from __future__ import annotations

import math

import torch

LOG_2PI = math.log(2 * math.pi)


def reparameterize(z_mean: torch.Tensor, z_log_var: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
    """z = mean + std * noise, differentiable in the posterior's parameters (Kingma & Welling, 2014)."""
    if noise is None:
        noise = torch.randn_like(z_mean)
    return z_mean + torch.exp(0.5 * z_log_var) * noise


def gaussian_kl_per_dim(z_mean: torch.Tensor, z_log_var: torch.Tensor) -> torch.Tensor:
    """KL(q(z | x) || N(0, I)) of each latent dimension, analytic (Kingma & Welling, 2014, appendix B)."""
    return 0.5 * (z_mean.pow(2) + z_log_var.exp() - 1.0 - z_log_var)


def log_prior_minus_log_posterior(z: torch.Tensor, noise: torch.Tensor, z_log_var: torch.Tensor) -> torch.Tensor:
    """log N(z; 0, I) - log q(z | x) of ``z = reparameterize(mean, log_var, noise)``, summed over the last dimension.

    The latent part of an importance weight p(x, z) / q(z | x) (Burda et al., 2016).
    """
    log_prior = -0.5 * (z.pow(2) + LOG_2PI).sum(-1)
    log_posterior = -0.5 * (noise.pow(2) + LOG_2PI + z_log_var).sum(-1)
    return log_prior - log_posterior


def posterior_samples(
    z_mean: torch.Tensor, z_log_var: torch.Tensor, n_samples: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """``n_samples`` codes z ~ q(z | x), ``(n_samples, batch, latent)``, and log p(z) - log q(z | x) of each,
    ``(n_samples, batch)``: what an importance-weighted bound needs beside log p(x | z) (Burda et al., 2016)."""
    noise = torch.randn(n_samples, *z_mean.shape, device=z_mean.device, dtype=z_mean.dtype)
    z = reparameterize(z_mean, z_log_var, noise)
    return z, log_prior_minus_log_posterior(z, noise, z_log_var)


def importance_weighted_bound(log_weights: torch.Tensor) -> torch.Tensor:
    """log (1/K) sum_k w_k over the K samples of dimension 0: the IWAE bound on log p(x) (Burda et al., 2016)."""
    return torch.logsumexp(log_weights, dim=0) - math.log(log_weights.shape[0])


def kl_warmup_weight(beta: float, steps: int, warmup_steps: int) -> float:
    """The KL weight after ``steps`` training steps: raised linearly from 0 to ``beta`` (Bowman et al., 2016)."""
    if warmup_steps == 0:
        return beta
    return beta * min(1.0, float(steps) / warmup_steps)

"""The Gaussian latent maths every VAE shares, checked against torch.distributions."""

from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import Normal, kl_divergence

from genmodels.nn.gaussian import (
    gaussian_kl_per_dim,
    importance_weighted_bound,
    kl_warmup_weight,
    log_prior_minus_log_posterior,
    posterior_samples,
    reparameterize,
)


def posterior(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(4, 3, generator=generator), torch.randn(4, 3, generator=generator)


def test_kl_per_dim_matches_torch_distributions():
    z_mean, z_log_var = posterior()
    expected = kl_divergence(Normal(z_mean, torch.exp(0.5 * z_log_var)), Normal(0.0, 1.0))
    torch.testing.assert_close(gaussian_kl_per_dim(z_mean, z_log_var), expected)


def test_latent_log_weight_is_log_prior_minus_log_posterior():
    z_mean, z_log_var = posterior()
    noise = torch.randn(5, *z_mean.shape, generator=torch.Generator().manual_seed(1))
    z = reparameterize(z_mean, z_log_var, noise)
    expected = Normal(0.0, 1.0).log_prob(z).sum(-1) - Normal(z_mean, torch.exp(0.5 * z_log_var)).log_prob(z).sum(-1)
    torch.testing.assert_close(log_prior_minus_log_posterior(z, noise, z_log_var), expected)


def test_posterior_samples_have_the_posterior_moments():
    torch.manual_seed(0)
    z_mean, z_log_var = torch.tensor([[1.0, -2.0]]), torch.tensor([[0.0, math.log(4.0)]])
    z, latent_log_weights = posterior_samples(z_mean, z_log_var, 20000)
    assert z.shape == (20000, 1, 2) and latent_log_weights.shape == (20000, 1)
    torch.testing.assert_close(z.mean(0), z_mean, atol=0.05, rtol=0)
    torch.testing.assert_close(z.std(0), torch.tensor([[1.0, 2.0]]), atol=0.05, rtol=0)


def test_importance_weighted_bound_of_one_sample_is_its_weight():
    log_weights = torch.tensor([[-3.0, 0.5, 2.0]])
    torch.testing.assert_close(importance_weighted_bound(log_weights), log_weights[0])


def test_importance_weighted_bound_is_the_log_mean_weight():
    log_weights = torch.tensor([[0.0], [math.log(3.0)]])
    torch.testing.assert_close(importance_weighted_bound(log_weights), torch.tensor([math.log(2.0)]))


@pytest.mark.parametrize(("steps", "expected"), [(0, 0.0), (50, 0.25), (100, 0.5), (400, 0.5)])
def test_kl_warmup_rises_linearly_to_beta(steps, expected):
    assert kl_warmup_weight(0.5, steps, 100) == pytest.approx(expected)


def test_kl_warmup_of_zero_steps_is_beta_from_the_start():
    assert kl_warmup_weight(0.5, 0, 0) == 0.5

"""The VAE family: honest bounds (checked against an analytic marginal), beta, conditioning, diagnostics."""

import math

import pytest
import torch
from torch import nn

from genmodels.applications.latent_space import interpolate, reconstruct, slerp, traverse
from genmodels.models import VAE, ConvVAE, ConvVAEConfig, VAEConfig
from genmodels.models.registry import register_model
from genmodels.models.vae import BaseVAE
from genmodels.training import Trainer, TrainerConfig

SHAPE = (1, 8, 8)


class LinearGaussianVAE(BaseVAE):
    """x = W z + b + noise: log p(x) is the Gaussian N(b, W W^T + diag(sigma^2)), known exactly."""

    def build_encoder(self) -> nn.Module:
        return nn.Sequential(nn.Flatten(), nn.Linear(4, self.config.hidden_dim), nn.Tanh())

    def build_decoder(self, input_dim: int) -> nn.Module:
        return nn.Linear(input_dim, 4)

    def exact_log_prob(self, x: torch.Tensor) -> torch.Tensor:
        weight, bias = self.decoder.weight, self.decoder.bias
        covariance = weight @ weight.T + torch.diag(self.log_scale.exp() ** 2)
        return torch.distributions.MultivariateNormal(bias, covariance).log_prob(x.flatten(1))


register_model("test-linear-gaussian-vae")(LinearGaussianVAE)


@pytest.fixture
def linear_gaussian() -> LinearGaussianVAE:
    torch.manual_seed(0)
    model = LinearGaussianVAE(VAEConfig(data_shape=(1, 2, 2), hidden_dim=8, latent_dim=2, likelihood="gaussian"))
    with torch.no_grad():
        model.log_scale.fill_(math.log(0.5))
    return model


def test_importance_weighted_estimate_converges_to_the_exact_log_likelihood(linear_gaussian):
    x = torch.randn(8, 1, 2, 2, generator=torch.Generator().manual_seed(1))
    exact = linear_gaussian.exact_log_prob(x)
    torch.manual_seed(2)
    with torch.no_grad():
        errors = [
            float((exact - linear_gaussian.importance_weighted_log_prob(x, n_samples)).abs().mean())
            for n_samples in (1, 10, 100, 10_000)
        ]
    assert errors[-1] < 0.02, errors
    assert errors[0] > errors[1] > errors[-1], errors
    with torch.no_grad():
        bound = linear_gaussian.importance_weighted_log_prob(x, 10_000)
    assert torch.all(bound <= exact + 0.05), "a lower bound, up to Monte Carlo error"


def test_one_sample_importance_weight_equals_the_elbo_in_expectation(linear_gaussian):
    x = torch.randn(4, 1, 2, 2, generator=torch.Generator().manual_seed(3))
    torch.manual_seed(4)
    with torch.no_grad():
        log_weights = linear_gaussian.log_importance_weights(x, 20_000)  # (samples, batch)
        elbo_samples = torch.stack([linear_gaussian.elbo(x) for _ in range(2000)])
    standard_error = log_weights.std(0) / math.sqrt(20_000) + elbo_samples.std(0) / math.sqrt(2000)
    assert torch.all((log_weights.mean(0) - elbo_samples.mean(0)).abs() < 4 * standard_error)


def test_iwae_objective_is_never_looser_than_the_mean_log_weight(binary_images):
    torch.manual_seed(0)
    model = VAE(VAEConfig(data_shape=SHAPE, hidden_dim=32, objective="iwae", train_importance_samples=8))
    losses = model.loss({"x": binary_images})
    assert losses["loss"] <= losses["negative_elbo"]


def test_log_prob_is_seeded_and_chunking_keeps_it_exact(linear_gaussian):
    x = torch.randn(3, 1, 2, 2, generator=torch.Generator().manual_seed(5))
    torch.manual_seed(6)
    first = linear_gaussian.log_prob(x)
    torch.manual_seed(6)
    assert torch.equal(first, linear_gaussian.log_prob(x))
    with torch.no_grad():
        chunked = linear_gaussian.importance_weighted_log_prob(x, 20_000, max_elements=1000)  # 83 samples a chunk
    assert torch.allclose(chunked, linear_gaussian.exact_log_prob(x), atol=0.05)


def test_beta_and_kl_warmup(binary_images):
    model = VAE(VAEConfig(data_shape=SHAPE, hidden_dim=16, beta=4.0, kl_warmup_steps=10))
    assert model.kl_weight() == 0.0
    for _ in range(5):
        model.loss({"x": binary_images})
    assert model.kl_weight() == pytest.approx(2.0)
    with torch.no_grad():
        model.loss({"x": binary_images})  # evaluation does not advance the warm-up
    assert model.kl_weight() == pytest.approx(2.0)
    for _ in range(10):
        model.loss({"x": binary_images})
    assert model.kl_weight() == 4.0
    torch.manual_seed(0)
    losses = model.loss({"x": binary_images})
    assert torch.allclose(losses["loss"], losses["reconstruction"] + 4.0 * losses["kl"])
    plain = VAE(VAEConfig(data_shape=SHAPE, hidden_dim=16))
    plain_losses = plain.loss({"x": binary_images})
    assert torch.equal(plain_losses["loss"], plain_losses["negative_elbo"])


def test_active_units_and_kl_per_dimension(binary_images):
    torch.manual_seed(0)
    model = VAE(VAEConfig(data_shape=SHAPE, hidden_dim=16, latent_dim=4))
    with torch.no_grad():  # collapse unit 2: its posterior mean no longer depends on x
        model.z_mean.weight[2].zero_()
    diagnostics = model.diagnostics({"x": binary_images})
    z_mean, z_log_var = model.encode(binary_images)
    expected_active = int((z_mean.var(0) > 0.01).sum())
    assert diagnostics["active_units"] == expected_active <= 3
    expected_kl = 0.5 * (z_mean.pow(2) + z_log_var.exp() - 1 - z_log_var).mean(0)
    assert [diagnostics[f"kl_dim_{i}"] for i in range(4)] == pytest.approx(expected_kl.tolist(), rel=1e-5)


def test_validation_logs_active_units(binary_images, tmp_path):
    model = VAE(VAEConfig(data_shape=SHAPE, hidden_dim=16, latent_dim=3))
    config = TrainerConfig(max_steps=10, batch_size=16, val_every=5, progress_bar=False, tensorboard=False)
    result = Trainer(config, tmp_path).fit(model, {"x": binary_images}, {"x": binary_images[:32]})
    assert {"active_units", "kl_dim_0", "kl_dim_2"} <= set(result.validation)
    header = (tmp_path / "history.csv").read_text().splitlines()[0]
    assert "active_units" in header and "kl_dim_2" in header


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)])
def test_conv_vae_shapes(shape):
    model = ConvVAE(ConvVAEConfig(data_shape=shape, likelihood="continuous_bernoulli"))
    x = torch.rand(3, *shape)
    assert torch.isfinite(model.loss({"x": x})["loss"])
    assert model.sample(2).shape == (2, *shape)
    assert model.decode(model.encode(x)[0]).shape == (3, *shape)


def test_conv_vae_refuses_indivisible_sizes():
    with pytest.raises(ValueError, match="divisible by 2\\*\\*len\\(channels\\) = 8"):
        ConvVAEConfig(data_shape=(1, 28, 28), channels=(8, 16, 32))


def bar_images(labels: torch.Tensor) -> torch.Tensor:
    """Class k is a horizontal bar on row k of an 8x8 image."""
    images = torch.zeros(len(labels), *SHAPE)
    images[torch.arange(len(labels)), 0, labels, :] = 1.0
    return images


def test_conditional_vae_samples_honour_labels(tmp_path):
    labels = torch.arange(256) % 8
    torch.manual_seed(0)
    model = VAE(VAEConfig(data_shape=SHAPE, hidden_dim=64, latent_dim=2, num_classes=8))
    config = TrainerConfig(max_steps=600, batch_size=64, progress_bar=False, tensorboard=False, monitor=None)
    Trainer(config, tmp_path).fit(model, {"x": bar_images(labels), "y": labels})
    wanted = torch.arange(8).repeat(4)
    samples = model.sample(32, generator=torch.Generator().manual_seed(0), labels=wanted)
    brightest_row = samples[:, 0].mean(-1).argmax(-1)
    assert (brightest_row == wanted).float().mean() >= 0.9, "chance would be 1/8"
    assert model.sample(4, labels=3).shape == (4, *SHAPE)
    with pytest.raises(ValueError, match="needs labels"):
        model.log_prob(bar_images(labels[:4]))
    assert model.log_prob(bar_images(labels[:4]), labels=labels[:4]).shape == (4,)


def test_latent_tools(binary_images):
    torch.manual_seed(0)
    model = VAE(VAEConfig(data_shape=SHAPE, hidden_dim=16, latent_dim=3))
    strip = interpolate(model, binary_images[0], binary_images[1], steps=5)
    ends = model.decode(model.encode(binary_images[:2])[0])
    assert strip.shape == (5, *SHAPE)
    assert torch.allclose(strip[0], ends[0], atol=1e-6) and torch.allclose(strip[-1], ends[1], atol=1e-6)
    spherical = interpolate(model, binary_images[0], binary_images[1], steps=5, method="spherical")
    assert torch.allclose(spherical[-1], ends[1], atol=1e-5)
    pairs = reconstruct(model, binary_images[:4])
    assert pairs.shape == (8, *SHAPE) and torch.equal(pairs[0], binary_images[0])
    assert traverse(model, binary_images[0]).shape == (3 * 9, *SHAPE)


def test_slerp_keeps_the_norm_of_equal_norm_endpoints():
    start, end = torch.tensor([3.0, 0.0]), torch.tensor([0.0, 3.0])
    path = slerp(start, end, torch.linspace(0, 1, 7))
    assert torch.allclose(path.norm(dim=1), torch.full((7,), 3.0))

"""Every registered image model honours the interface; the VAE and GAN compute what their papers say.

Sequence models (token ids, not images) are held to the same interface in test_text.py, the tabular VAE and MADE (rows
of features) in test_tabular.py and test_tabular_made.py and ensembles (built from saved members) in test_ensemble.py.
"""

import pytest
import torch

from genmodels.models import GAN, MODEL_REGISTRY, VAE, GANConfig, TokenModel, VAEConfig, build_model

SHAPE = (1, 8, 8)
NOT_IMAGE_MODELS = {"tabular-vae", "tabular-made", "tabular-flow", "flow", "ensemble"}
LIBRARY_MODELS = sorted(
    name
    for name, model_class in MODEL_REGISTRY.items()
    if not name.startswith("test-") and not issubclass(model_class, TokenModel) and name not in NOT_IMAGE_MODELS
)


SMALL = {name: {"widths": (8,), "steps": 2, "ode_tolerance": 1e-2} for name in ("diffusion", "flow-matching")}
"""Settings that keep the denoising models small; their likelihood ODE still takes seconds, so they run with the slow
tests here (tests/test_diffusion.py holds their fast ones)."""


@pytest.fixture(
    params=[pytest.param(name, marks=pytest.mark.slow) if name in SMALL else name for name in LIBRARY_MODELS]
)
def model(request):
    torch.manual_seed(0)
    return build_model(request.param, data_shape=SHAPE, **SMALL.get(request.param, {}))


def test_registry_names_the_founding_models():
    assert {"vae", "gan"} <= set(MODEL_REGISTRY)
    assert MODEL_REGISTRY["vae"] is VAE and MODEL_REGISTRY["gan"] is GAN


def test_loss_returns_named_finite_scalars_with_loss(model, binary_images):
    losses = model.loss({"x": binary_images})
    assert "loss" in losses
    for name, value in losses.items():
        assert value.dim() == 0, name
        assert torch.isfinite(value), name


def test_each_phase_loss_updates_only_its_parameters(model, binary_images):
    phases = model.training_phases()
    trainable = {id(p) for p in model.parameters() if p.requires_grad}
    assert {id(p) for phase in phases for p in phase.parameters} == trainable
    for phase in phases:
        model.zero_grad(set_to_none=True)
        losses = model.loss({"x": binary_images}, phase=phase.name)
        losses[phase.loss_key].backward()
        own = {id(p) for p in phase.parameters}
        assert all(p.grad is not None for p in model.parameters() if id(p) in own), phase.name
        if len(phases) > 1 and phase.name == "discriminator":
            assert all(p.grad is None for p in model.parameters() if id(p) not in own)
    assert all(p.grad is None for p in model.parameters() if not p.requires_grad)


def test_sample_shape_range_and_seed(model):
    first = model.sample(10, generator=torch.Generator().manual_seed(3))
    again = model.sample(10, generator=torch.Generator().manual_seed(3))
    other = model.sample(10, generator=torch.Generator().manual_seed(4))
    assert first.shape == (10, *SHAPE)
    assert first.min() >= 0 and first.max() <= 1
    assert torch.equal(first, again)
    assert not torch.equal(first, other)
    assert model.training, "sample must restore the training mode it found"


def test_log_prob_and_score_shapes(model, binary_images):
    torch.manual_seed(0)
    scores = model.score(binary_images)
    assert scores.shape == (64,) and torch.isfinite(scores).all()
    if model.log_prob_kind == "none":
        with pytest.raises(NotImplementedError):
            model.log_prob(binary_images)
    else:
        torch.manual_seed(0)
        log_probs = model.log_prob(binary_images)
        assert log_probs.shape == (64,)
        assert torch.equal(scores, -log_probs), "the default anomaly score is the negative log_prob"


def test_wrong_shape_is_refused_with_both_shapes(model):
    with pytest.raises(ValueError, match=r"\(batch, 1, 8, 8\).*\(4, 1, 28, 28\)"):
        model.loss({"x": torch.zeros(4, 1, 28, 28)})


def test_config_round_trips_through_json_values(model):
    values = model.config.to_dict()
    assert type(model.config).from_dict(values) == model.config
    with pytest.raises(ValueError, match="no option"):
        type(model.config).from_dict({**values, "not_an_option": 1})


def test_bad_sample_count_is_refused(model):
    with pytest.raises(ValueError, match="positive"):
        model.sample(0)


# --- VAE ---------------------------------------------------------------------------------------


def test_vae_architecture_matches_the_founding_example():
    vae = VAE(VAEConfig(data_shape=(1, 28, 28)))
    assert vae.encoder[1].in_features == 784 and vae.encoder[1].out_features == 512
    assert vae.z_mean.out_features == 2 and vae.z_log_var.out_features == 2
    assert vae.decoder[0].out_features == 512 and vae.decoder[2].out_features == 784


def test_vae_elbo_matches_torch_distributions(binary_images):
    torch.manual_seed(0)
    vae = VAE(VAEConfig(data_shape=SHAPE, latent_dim=3, hidden_dim=32))
    torch.manual_seed(1)
    elbo = vae.elbo(binary_images)
    z_mean, z_log_var = vae.encode(binary_images)
    torch.manual_seed(1)
    z = z_mean + torch.exp(0.5 * z_log_var) * torch.randn_like(z_mean)
    posterior = torch.distributions.Normal(z_mean, torch.exp(0.5 * z_log_var))
    prior = torch.distributions.Normal(torch.zeros_like(z_mean), torch.ones_like(z_mean))
    decoder = torch.distributions.Bernoulli(logits=vae.decoder(z))
    expected = decoder.log_prob(binary_images.flatten(1)).sum(-1) - torch.distributions.kl_divergence(
        posterior, prior
    ).sum(-1)
    assert torch.allclose(elbo, expected, atol=1e-4)


def test_vae_bernoulli_refuses_grey_levels():
    vae = VAE(VAEConfig(data_shape=SHAPE))
    with pytest.raises(ValueError, match="binary data"):
        vae.loss({"x": torch.full((2, *SHAPE), 0.5)})


@pytest.mark.parametrize("likelihood", ["continuous_bernoulli", "gaussian"])
def test_vae_grey_level_likelihoods(likelihood):
    vae = VAE(VAEConfig(data_shape=SHAPE, likelihood=likelihood))
    grey = torch.rand(5, *SHAPE)
    assert torch.isfinite(vae.loss({"x": grey})["loss"])
    assert vae.sample(3).shape == (3, *SHAPE)


def test_vae_unknown_likelihood_is_refused():
    with pytest.raises(ValueError, match="likelihood must be one of"):
        VAEConfig(likelihood="poisson")


def test_vae_encode_decode_shapes(binary_images):
    vae = VAE(VAEConfig(data_shape=SHAPE, latent_dim=2))
    z_mean, z_log_var = vae.encode(binary_images)
    assert z_mean.shape == z_log_var.shape == (64, 2)
    assert vae.decode(z_mean).shape == (64, *SHAPE)


# --- GAN ---------------------------------------------------------------------------------------


def test_gan_architecture_matches_the_founding_example():
    gan = GAN(GANConfig(data_shape=(1, 28, 28)))
    assert [type(layer).__name__ for layer in gan.generator] == ["Linear", "ReLU", "Linear", "Tanh"]
    assert gan.generator[0].in_features == 100 and gan.generator[0].out_features == 128
    assert [type(layer).__name__ for layer in gan.discriminator] == ["Flatten", "Linear", "LeakyReLU", "Linear"]
    assert gan.discriminator[2].negative_slope == 0.2 and gan.discriminator[3].out_features == 1


def test_gan_has_no_likelihood_but_a_critic_score(binary_images):
    gan = GAN(GANConfig(data_shape=SHAPE))
    assert gan.log_prob_kind == "none"
    assert torch.allclose(gan.score(binary_images), -gan.discriminate(binary_images * 2 - 1))

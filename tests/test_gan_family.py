"""GAN family: losses and penalties as the papers define them, EMA, truncation, labels, health checks."""

import math

import pytest
import torch
from tiny_models import DiagonalGaussian, DiagonalGaussianConfig
from torch import nn
from torch.nn import functional as F

from genmodels.models import DCGAN, GAN, WGANGP, DCGANConfig, GANConfig, WGANGPConfig
from genmodels.training import Trainer, TrainerConfig
from genmodels.training.checkpoint import load_checkpoint
from genmodels.training.trainer import CHECKPOINT_NAME, GOOD_CHECKPOINT_NAME

SHAPE = (1, 8, 8)


def quiet(**values) -> TrainerConfig:
    defaults = {"accelerator": "cpu", "progress_bar": False, "tensorboard": False, "batch_size": 16, "monitor": None}
    return TrainerConfig(**{**defaults, **values})


def tiny(cls, **values):
    torch.manual_seed(0)
    config_class = {GAN: GANConfig, DCGAN: DCGANConfig, WGANGP: WGANGPConfig}[cls]
    widths = {} if cls is GAN else {"generator_channels": 4, "discriminator_channels": 4}
    return cls(config_class(data_shape=SHAPE, latent_dim=8, **widths, **values))


def linear_critic(gan: GAN, weight: torch.Tensor) -> None:
    """Make D(x) = <weight, x>: its input gradient is ``weight`` everywhere."""
    gan.discriminator = nn.Sequential(nn.Flatten(), nn.Linear(weight.numel(), 1, bias=False))
    with torch.no_grad():
        gan.discriminator[1].weight.copy_(weight.view(1, -1))


@pytest.mark.parametrize("cls", [GAN, DCGAN, WGANGP])
def test_a_training_step_changes_both_players(cls, binary_images, tmp_path):
    gan = tiny(cls)
    before = {name: tensor.clone() for name, tensor in gan.state_dict().items()}
    Trainer(quiet(max_steps=2, betas=(0.5, 0.999)), tmp_path).fit(gan, {"x": binary_images})
    changed = {name for name, tensor in gan.state_dict().items() if not torch.equal(tensor, before[name])}
    assert any(name.startswith("generator.") for name in changed)
    assert any(name.startswith("discriminator.") for name in changed)


def test_ema_generator_trails_the_trained_one_and_samples_by_default(binary_images, tmp_path):
    gan = tiny(DCGAN, ema_decay=0.9)
    Trainer(quiet(max_steps=5), tmp_path).fit(gan, {"x": binary_images})
    assert int(gan.ema_updates) == 5
    raw = dict(gan.generator.named_parameters())
    assert any(not torch.equal(value, raw[name]) for name, value in gan.generator_ema.named_parameters())
    seeded = lambda: torch.Generator().manual_seed(1)  # noqa: E731
    default, ema = gan.sample(4, generator=seeded()), gan.sample(4, generator=seeded(), use_ema=True)
    assert torch.equal(default, ema)
    assert not torch.equal(default, gan.sample(4, generator=seeded(), use_ema=False))


def test_no_ema_generator_unless_asked():
    gan = tiny(GAN)
    assert not hasattr(gan, "generator_ema")
    with pytest.raises(ValueError, match="no EMA"):
        gan.sample(2, use_ema=True)


@pytest.mark.parametrize("loss", ["nonsaturating", "hinge", "wasserstein"])
def test_losses_follow_their_definitions(loss, binary_images):
    gan = tiny(GAN, loss=loss)
    torch.manual_seed(5)
    with torch.no_grad():
        losses = gan.loss({"x": binary_images})
    torch.manual_seed(5)
    z = torch.randn(64, 8)
    with torch.no_grad():
        real, fake = gan.discriminate(binary_images * 2 - 1), gan.discriminate(gan.generate(z))
    expected = {
        "nonsaturating": (F.softplus(-real).mean() + F.softplus(fake).mean(), F.softplus(-fake).mean()),
        "hinge": (F.relu(1 - real).mean() + F.relu(1 + fake).mean(), -fake.mean()),
        "wasserstein": (fake.mean() - real.mean(), -fake.mean()),
    }[loss]
    assert math.isclose(float(losses["discriminator_loss"]), float(expected[0]), rel_tol=1e-5)
    assert math.isclose(float(losses["generator_loss"]), float(expected[1]), rel_tol=1e-5)


def test_gradient_penalty_and_r1_are_exact_for_a_linear_critic(binary_images):
    weight = torch.full((64,), 0.25)  # ||w|| = 2
    for option, expected in (("gradient_penalty", (2.0 - 1.0) ** 2), ("r1_penalty", 4.0)):
        gan = tiny(GAN, loss="wasserstein", **{option: 1.0})
        linear_critic(gan, weight)
        losses = gan.loss({"x": binary_images}, phase="discriminator")
        assert math.isclose(float(losses[option]), expected, rel_tol=1e-5)
        losses["discriminator_loss"].backward()  # the penalty is differentiable (double backward)
        assert gan.discriminator[1].weight.grad is not None


def test_gradient_penalty_refuses_batch_norm():
    with pytest.raises(ValueError, match="batch norm"):
        DCGANConfig(data_shape=SHAPE, gradient_penalty=10.0)


def test_spectral_norm_bounds_the_discriminator_weights():
    gan = tiny(GAN, spectral_norm=True)
    for _ in range(20):  # power iterations run in training-mode forward passes
        gan.discriminate(torch.randn(8, *SHAPE))
    weight = gan.discriminator[1].weight
    assert math.isclose(float(torch.linalg.matrix_norm(weight.detach(), ord=2)), 1.0, rel_tol=0.05)


def test_truncation_keeps_codes_inside_the_threshold():
    gan = tiny(GAN)
    z = gan.latent_noise(5000, torch.Generator().manual_seed(0), truncation=0.7)
    assert z.abs().max() <= 0.7 and z.abs().max() > 0.69
    assert abs(float(z.mean())) < 0.02
    with pytest.raises(ValueError, match="positive"):
        gan.sample(2, truncation=0.0)


def test_conditional_sampling_honours_labels():
    """A generator that ignores noise and puts label 0 at (1, 0) and label 1 at (0, 1)."""
    torch.manual_seed(0)
    gan = GAN(GANConfig(data_shape=(2,), latent_dim=3, num_classes=2, generator_hidden_dim=2))
    with torch.no_grad():
        first, last = gan.generator[0], gan.generator[2]
        first.weight.zero_(), first.bias.zero_(), last.bias.zero_()
        first.weight[:, 3:] = torch.eye(2)  # hidden = one-hot label
        last.weight.copy_(torch.tensor([[20.0, -20.0], [-20.0, 20.0]]))
    for label, corner in ((0, [1.0, 0.0]), (1, [0.0, 1.0])):
        samples = gan.sample(16, labels=label, generator=torch.Generator().manual_seed(label))
        assert torch.allclose(samples, torch.tensor(corner).expand(16, 2), atol=1e-6)
    mixed = gan.sample(100, generator=torch.Generator().manual_seed(0))
    assert {tuple(row) for row in mixed.round().tolist()} == {(1.0, 0.0), (0.0, 1.0)}


def test_conditional_gan_needs_labels(binary_images):
    gan = tiny(DCGAN, num_classes=3)
    with pytest.raises(ValueError, match="labelled"):
        gan.loss({"x": binary_images})
    with pytest.raises(ValueError, match="integers in 0..2"):
        gan.sample(2, labels=torch.tensor([0, 5]))
    labels = torch.arange(64) % 3
    assert torch.isfinite(gan.loss({"x": binary_images, "y": labels})["loss"])
    assert gan.score(binary_images, labels).shape == (64,)
    with pytest.raises(ValueError, match="not conditional"):
        tiny(GAN).sample(2, labels=0)


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32)])
def test_dcgan_images_of_common_sizes(shape):
    torch.manual_seed(0)
    gan = DCGAN(DCGANConfig(data_shape=shape, generator_channels=8, discriminator_channels=8))
    assert gan.sample(3).shape == (3, *shape)
    assert gan.score(torch.rand(3, *shape)).shape == (3,)
    with pytest.raises(ValueError, match="divisible by 4"):
        DCGANConfig(data_shape=(1, 30, 30))


def test_health_checks_name_collapse_and_divergence():
    gan = tiny(GAN)
    healthy = {"sample_diversity": 0.9, "discriminator_accuracy": 0.7, "generator_loss": 1.0}
    assert gan.check_training_health([healthy] * 5) == []
    collapsed = {**healthy, "sample_diversity": 0.1}
    assert gan.check_training_health([healthy, collapsed, collapsed]) == []  # not yet three in a row
    assert [w.split(":")[0] for w in gan.check_training_health([healthy, *[collapsed] * 3])] == ["mode collapse"]
    won = {**healthy, "discriminator_accuracy": 1.0, "generator_loss": 9.0}
    kinds = [w.split(":")[0] for w in gan.check_training_health([healthy, *[won] * 3])]
    assert kinds == ["discriminator won (divergence)", "generator loss exploded (divergence)"]


class CollapsesAfterTwoValidations(DiagonalGaussian):
    def check_training_health(self, validations):
        return ["mode collapse: staged for the test"] if len(validations) > 2 else []


def test_trainer_keeps_the_last_good_checkpoint_when_health_fails(binary_images, tmp_path):
    torch.manual_seed(0)
    model = CollapsesAfterTwoValidations(DiagonalGaussianConfig(data_shape=SHAPE))
    trainer = Trainer(quiet(max_steps=50, val_every=10, checkpoint_every=10), tmp_path)
    result = trainer.fit(model, {"x": binary_images}, {"x": binary_images[:16]})
    assert result.warnings == ["step 30: mode collapse: staged for the test"]  # reported once, when it appears
    assert load_checkpoint(tmp_path / GOOD_CHECKPOINT_NAME).step == 20
    assert load_checkpoint(tmp_path / CHECKPOINT_NAME).step == 50

"""The multi-scale image flow: exact change of variables, a bound in bits per dimension, seeded samples, saving."""

import math

import pytest
import torch

from genmodels.models import ImageFlow, ImageFlowConfig
from genmodels.training import Trainer, TrainerConfig


def tiny_flow(**settings) -> ImageFlow:
    torch.manual_seed(0)
    config = {"data_shape": (1, 4, 4), "levels": 2, "blocks": 2, "hidden_channels": 8, **settings}
    return ImageFlow(ImageFlowConfig(**config))


def grey_images(count: int, shape=(1, 4, 4), seed: int = 0) -> torch.Tensor:
    return torch.randint(0, 256, (count, *shape), generator=torch.Generator().manual_seed(seed)) / 255


def test_log_density_is_the_change_of_variables_with_a_brute_force_jacobian():
    model = tiny_flow().eval()
    y = model.dequantize(grey_images(3), torch.Generator().manual_seed(1))
    with torch.no_grad():
        model.flow.log_prob(y, None)  # ActNorm's data-dependent start, before the check

    def latents(flat: torch.Tensor) -> torch.Tensor:
        z, _ = model.flow.inverse_and_log_det(flat.view(1, 1, 4, 4))
        return torch.cat([part.flatten() for part in z])

    for image in y:
        jacobian = torch.autograd.functional.jacobian(latents, image.flatten())
        z, _ = model.flow.inverse_and_log_det(image[None])
        base = sum(distribution.log_prob(part) for distribution, part in zip(model.flow.q0, z, strict=True))
        expected = base + torch.linalg.slogdet(jacobian).logabsdet
        assert torch.allclose(model.flow.log_prob(image[None], None), expected, atol=1e-3)


def test_log_prob_is_the_dequantized_bound_in_nats_and_repeats():
    model = tiny_flow().eval()
    x = grey_images(5)
    y = model.dequantize(x, torch.Generator().manual_seed(0))
    assert torch.equal(torch.round((y + 0.5) * 256 - 0.5 + 1e-4).clamp(0, 255), torch.round(x * 255))  # same levels
    first, again = model.log_prob(x), model.log_prob(x)
    assert first.shape == (5,) and torch.equal(first, again) and first.grad_fn is None
    expected = model.flow.log_prob(y, None) - 16 * math.log(256)
    assert torch.allclose(first, expected, atol=1e-4)


def test_training_lowers_bits_per_dimension(tmp_path):
    model = tiny_flow()
    generator = torch.Generator().manual_seed(0)
    patterns = torch.tensor([40.0, 200.0])[torch.randint(0, 2, (256, 1, 1, 1), generator=generator)]
    noise = torch.randint(-2, 3, (256, 1, 4, 4), generator=generator)
    levels = patterns + torch.linspace(-30, 30, 4).view(1, 1, 1, 4) + noise
    x = levels / 255  # two patterns, each level within 2 of it: about 2.3 bits per dimension
    before = model.loss({"x": x})["bits_per_dim"].item()
    config = TrainerConfig(max_steps=60, batch_size=64, learning_rate=3e-3, progress_bar=False, tensorboard=False)
    Trainer(config, tmp_path).fit(model, {"x": x})
    assert model.loss({"x": x})["bits_per_dim"].item() < before - 1.0


def test_samples_are_seeded_8_bit_images_and_temperature_narrows_them():
    model = tiny_flow()
    model.loss({"x": grey_images(32)})  # start ActNorm on data
    first = model.sample(6, generator=torch.Generator().manual_seed(3))
    again = model.sample(6, generator=torch.Generator().manual_seed(3))
    assert first.shape == (6, 1, 4, 4) and torch.equal(first, again)
    assert first.min() >= 0 and first.max() <= 1 and torch.equal(first * 255, torch.round(first * 255))
    cold = model.sample(200, generator=torch.Generator().manual_seed(4), temperature=0.1)
    warm = model.sample(200, generator=torch.Generator().manual_seed(4))
    assert cold.std(0).mean() < warm.std(0).mean()
    with pytest.raises(ValueError, match="temperature must be positive"):
        model.sample(2, temperature=0)


def test_save_and_load_keep_the_bound_and_the_samples(tmp_path):
    model = tiny_flow()
    model.loss({"x": grey_images(32)})
    model.eval().save_pretrained(tmp_path)
    restored = ImageFlow.from_pretrained(tmp_path)
    x = grey_images(4, seed=5)
    assert torch.equal(restored.log_prob(x), model.log_prob(x))
    seed = torch.Generator().manual_seed(0)
    assert torch.equal(restored.sample(3, generator=seed), model.sample(3, generator=torch.Generator().manual_seed(0)))


def test_bad_shapes_and_values_are_refused_clearly():
    with pytest.raises(ValueError, match="divisible by 2\\*\\*levels = 4"):
        ImageFlowConfig(data_shape=(1, 6, 6), levels=2)
    with pytest.raises(ValueError, match="images \\(channels, height, width\\)"):
        ImageFlowConfig(data_shape=(16,))
    model = tiny_flow()
    with pytest.raises(ValueError, match="pixel values in \\[0, 1\\]"):
        model.log_prob(torch.full((2, 1, 4, 4), 2.0))

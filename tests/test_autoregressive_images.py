"""MADE and Gated PixelCNN: truly autoregressive, exactly normalised, seeded, saved and trained."""

from __future__ import annotations

import itertools

import pytest
import torch

from genmodels.models import MADE, MADEConfig, PixelCNN, PixelCNNConfig
from genmodels.training import Trainer, TrainerConfig


def made(**settings) -> MADE:
    torch.manual_seed(0)
    return MADE(MADEConfig(**{"data_shape": (1, 4, 4), "hidden_sizes": (32, 32), **settings})).eval()


def pixelcnn(**settings) -> PixelCNN:
    torch.manual_seed(0)
    return PixelCNN(PixelCNNConfig(**{"data_shape": (1, 5, 5), "channels": 8, "num_layers": 2, **settings})).eval()


def dependency_matrix(logits_of, dimensions: int) -> torch.Tensor:
    """``depends[i, j]``: whether output i's logits change with input j (gradient, numerically)."""
    x = torch.bernoulli(torch.full((1, dimensions), 0.5), generator=torch.Generator().manual_seed(0))
    x.requires_grad_(True)
    logits = logits_of(x)  # (dimensions, outputs)
    rows = []
    for i in range(dimensions):
        (gradient,) = torch.autograd.grad(logits[i].sum(), x, retain_graph=True)
        rows.append(gradient[0] != 0)
    return torch.stack(rows)


@pytest.mark.parametrize("num_masks", [1, 3])
def test_made_outputs_depend_only_on_earlier_inputs_in_every_ordering(num_masks):
    model = made(num_masks=num_masks, natural_ordering=num_masks == 1)
    for mask in range(num_masks):
        depends = dependency_matrix(lambda x, mask=mask: model.logits(x, mask)[0], 16)
        position = model.orderings[mask]  # position of each pixel in the chain rule
        earlier = position[None, :] < position[:, None]  # [i, j]: j comes before i
        assert not depends[~earlier].any()  # never on itself or anything later
        assert depends.any()


def test_pixelcnn_sees_exactly_the_pixels_above_and_to_the_left_without_a_blind_spot():
    model = pixelcnn()
    depends = dependency_matrix(lambda x: model.logits(x.view(1, 1, 5, 5))[0].reshape(25, -1), 25)
    index = torch.arange(25)
    rows, columns = index // 5, index % 5
    before = (rows[None, :] < rows[:, None]) | (
        (rows[None, :] == rows[:, None]) & (columns[None, :] < columns[:, None])
    )
    assert not depends[~before].any()
    # the blind spot of the original PixelCNN: pixels above and to the right must be seen too
    assert depends[2 * 5 + 1, 1 * 5 + 3] and depends[4 * 5 + 0, 3 * 5 + 4]
    assert depends[before].float().mean() > 0.9  # with two 3x3 layers after a 7x7, nearly all of the past


@pytest.mark.parametrize("settings", [{}, {"num_classes": 3}, {"pixel_levels": 256}], ids=["binary", "labels", "grey"])
def test_pixelcnn_row_by_row_logits_equal_the_full_network(settings):
    """The sampler's cached path (rows above once, the row's left part per pixel) is the same function."""
    model = pixelcnn(data_shape=(1, 6, 7), **settings)
    generator = torch.Generator().manual_seed(0)
    x = torch.randint(0, model.config.pixel_levels, (3, 1, 6, 7), generator=generator) / (model.config.pixel_levels - 1)
    labels = torch.tensor([0, 2, 1]) if settings.get("num_classes") else None
    with torch.no_grad():
        full = model.logits(x, labels)
        for row in range(6):
            rows_above = model.rows_above(x[:, :, : row + 1], labels)
            for column in range(7):
                cached = model.row_logits(x[:, :, row : row + 1, : column + 1], rows_above, labels)
                assert torch.allclose(cached[:, 0, column], full[:, row, column], atol=1e-5)


ALL_2X2_BINARY = torch.tensor(list(itertools.product([0.0, 1.0], repeat=4))).view(16, 1, 2, 2)


@pytest.mark.parametrize(
    "model",
    [
        made(data_shape=(1, 2, 2)),
        made(data_shape=(1, 2, 2), num_masks=4, natural_ordering=False, ensemble_masks=4),
        pixelcnn(data_shape=(1, 2, 2)),
    ],
    ids=["made", "made-ensemble", "pixelcnn"],
)
def test_exact_probabilities_of_all_2x2_binary_images_sum_to_one(model):
    with torch.no_grad():
        total = model.log_prob(ALL_2X2_BINARY).exp().sum()
    assert torch.allclose(total, torch.tensor(1.0), atol=1e-5)


@pytest.mark.parametrize("model_class", ["made", "pixelcnn"])
def test_conditional_and_grey_level_models_are_normalised_per_label(model_class):
    build = made if model_class == "made" else pixelcnn
    conditional = build(data_shape=(1, 2, 2), num_classes=3)
    grey = build(data_shape=(1, 1, 2), pixel_levels=256)
    with torch.no_grad():
        for label in range(3):
            total = conditional.log_prob(ALL_2X2_BINARY, labels=torch.full((16,), label)).exp().sum()
            assert torch.allclose(total, torch.tensor(1.0), atol=1e-5)
        levels = torch.cartesian_prod(torch.arange(256.0), torch.arange(256.0)) / 255  # all 65,536 images
        assert torch.allclose(grey.log_prob(levels.view(-1, 1, 1, 2)).exp().sum(), torch.tensor(1.0), atol=1e-4)


@pytest.mark.parametrize("build", [made, pixelcnn], ids=["made", "pixelcnn"])
def test_sampling_is_binary_seeded_and_honours_labels(build):
    model = build(num_classes=2)
    model.train()
    first = model.sample(6, generator=torch.Generator().manual_seed(1), labels=1)
    again = model.sample(6, generator=torch.Generator().manual_seed(1), labels=torch.ones(6))
    assert first.shape == (6, *model.config.data_shape) and set(first.unique().tolist()) <= {0.0, 1.0}
    assert torch.equal(first, again) and model.training
    with pytest.raises(ValueError, match="labels must be 6 integers"):
        model.sample(6, labels=torch.ones(5))
    with pytest.raises(ValueError, match="needs labels"):
        model.sample(6)


@pytest.mark.parametrize("build", [made, pixelcnn], ids=["made", "pixelcnn"])
def test_save_and_load_keep_the_exact_likelihood(build, tmp_path):
    model = build(num_masks=2, ensemble_masks=2) if build is made else build()
    images = torch.bernoulli(torch.full((5, *model.config.data_shape), 0.3), generator=torch.Generator().manual_seed(2))
    model.save_pretrained(tmp_path)
    restored = type(model).from_pretrained(tmp_path)
    assert torch.equal(restored.log_prob(images), model.log_prob(images))


@pytest.mark.parametrize("build", [made, pixelcnn], ids=["made", "pixelcnn"])
def test_bad_inputs_are_refused_clearly(build):
    model = build()
    with pytest.raises(ValueError, match="expects x of shape"):
        model.log_prob(torch.zeros(2, 1, 3, 3))
    with pytest.raises(ValueError, match="binarize the data"):
        model.log_prob(torch.full((2, *model.config.data_shape), 0.5))


@pytest.mark.parametrize("name", ["made", "pixelcnn"])
def test_training_lowers_the_negative_log_likelihood(name, binary_images, tmp_path):
    torch.manual_seed(0)
    model = (
        MADE(MADEConfig(data_shape=(1, 8, 8), hidden_sizes=(64,), num_masks=2))
        if name == "made"
        else PixelCNN(PixelCNNConfig(data_shape=(1, 8, 8), channels=16, num_layers=2))
    )
    before = -model.log_prob(binary_images).mean().item()
    config = TrainerConfig(max_steps=60, batch_size=32, learning_rate=3e-3, progress_bar=False, tensorboard=False)
    Trainer(config, tmp_path).fit(model, {"x": binary_images})
    after = -model.log_prob(binary_images).mean().item()
    assert after < before - 10  # nats per 64-pixel image

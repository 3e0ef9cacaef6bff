"""Sample-quality metrics: sane on real data, harsh on noise and on a single mode; mode counting on 2-D beds."""

import numpy as np
import pytest
import torch

from genmodels.data import load_data
from genmodels.data.synthetic import MIXTURES
from genmodels.errors import CheckpointError
from genmodels.evaluation.feature_network import load_feature_network, train_feature_network
from genmodels.evaluation.generated import held_out_images, real_data_floor
from genmodels.evaluation.modes import mode_statistics
from genmodels.evaluation.sample_quality import (
    class_statistics,
    frechet_distance,
    precision_recall_density_coverage,
    sample_quality,
)


@pytest.fixture(scope="module")
def digits():
    return load_data("digits")


@pytest.fixture(scope="module")
def network():
    return load_feature_network("digits")


def test_shipped_feature_network_classifies_held_out_digits(network, digits):
    _, probabilities = network.embed(digits.test.images)
    assert (probabilities.argmax(1) == digits.test.labels.numpy()).mean() > 0.9


def test_frechet_distance_of_real_splits_is_near_zero_and_far_below_noise(network, digits):
    real_floor = real_data_floor(digits, ["fd"])["fd_digits"]
    noise = torch.rand(len(held_out_images(digits)), 1, 8, 8, generator=torch.Generator().manual_seed(0))
    noise_distance = sample_quality(network, digits.train.images, noise, ["fd"])["fd_digits"]
    assert 0 <= real_floor < 0.05 * noise_distance


def test_frechet_distance_matches_the_closed_form_for_gaussians():
    # N(0, I) vs N(m, 4 I) in 3-D: |m|^2 + 3 (1 + 4 - 2 * 2) = |m|^2 + 3
    random = np.random.default_rng(0)
    a = random.standard_normal((200_000, 3))
    b = 2 * random.standard_normal((200_000, 3)) + np.array([1.0, 2.0, 0.0])
    assert frechet_distance(a, a) == pytest.approx(0.0, abs=1e-8)
    assert frechet_distance(a, b) == pytest.approx(5.0 + 3.0, rel=0.01)


def test_a_set_against_itself_has_full_precision_recall_and_coverage():
    features = np.random.default_rng(0).standard_normal((300, 16))
    values = precision_recall_density_coverage(features, features)
    assert values["precision"] == values["recall"] == values["coverage"] == 1.0


def test_a_single_mode_generator_gets_low_recall_and_one_class(network, digits):
    threes = digits.train.images[digits.train.labels == 3]
    result = sample_quality(network, digits.train.images, threes)
    assert result["classes_produced"] <= 2
    assert result["class_kl_to_uniform"] > 0.9 * np.log(10)
    assert result["recall"] < 0.3 and result["coverage"] < 0.3
    assert result["precision"] > 0.8  # every sample is a real, good three


def test_class_statistics_of_a_uniform_prediction():
    probabilities = np.eye(4)[np.arange(400) % 4]
    stats = class_statistics(probabilities)
    assert stats["classes_produced"] == 4 and stats["class_kl_to_uniform"] == pytest.approx(0.0)
    assert stats["class_counts"] == [100] * 4


def test_bad_candidates_are_refused(network, digits):
    with pytest.raises(ValueError, match="NaN"):
        sample_quality(network, digits.train.images, torch.full((4, 1, 8, 8), float("nan")))
    with pytest.raises(ValueError, match="shape"):
        sample_quality(network, digits.train.images, torch.rand(4, 1, 28, 28))
    with pytest.raises(ValueError, match="unknown metric"):
        sample_quality(network, digits.train.images, digits.test.images, ["inception"])
    with pytest.raises(CheckpointError, match="features train"):
        load_feature_network("no-such-data")


def test_feature_network_retrains_saves_and_loads(tmp_path, monkeypatch):
    monkeypatch.setenv("GENMODELS_FEATURE_NETWORKS", str(tmp_path))
    record = train_feature_network("digits", tmp_path / "digits", epochs=1)
    assert 0.1 < record["test_accuracy"] <= 1.0
    reloaded = load_feature_network("digits")  # the user's network now takes precedence over the shipped one
    assert reloaded.config.data_shape == (1, 8, 8)
    (tmp_path / "digits" / "model.safetensors").write_bytes(b"corrupt")
    with pytest.raises(CheckpointError, match="SHA-256"):
        load_feature_network("digits")


def test_mode_statistics_on_the_grid():
    grid = MIXTURES["grid25"]
    everywhere = np.repeat(grid.centres, 100, axis=0)
    stats = mode_statistics(everywhere, grid)
    assert stats["modes_recovered"] == 25 and stats["high_quality_fraction"] == 1.0
    one_mode = np.repeat(grid.centres[:1], 2500, axis=0)
    assert mode_statistics(one_mode, grid)["modes_recovered"] == 1
    far = np.full((100, 2), 0.2)  # between modes: no high-quality sample
    assert mode_statistics(far, grid)["high_quality_fraction"] == 0.0


def test_grid_and_ring_data_sets():
    for name, modes in (("grid25", 25), ("ring8", 8)):
        data = load_data(name)
        assert data.data_shape == (2,) and data.info["num_classes"] == modes
        stats = mode_statistics(data.test.images.numpy(), MIXTURES[name])
        assert stats["modes_recovered"] == modes and stats["high_quality_fraction"] > 0.98

"""Anomaly scores, the calibrated detector, metrics, protocols and the detect commands."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from tiny_models import DiagonalGaussian, DiagonalGaussianConfig
from typer.testing import CliRunner

from genmodels.applications.anomaly import Detector, anomaly_scores, available_scores, pixel_anomaly_map
from genmodels.applications.anomaly.metrics import detection_metrics
from genmodels.applications.anomaly.protocols import run_protocol
from genmodels.cli.main import app
from genmodels.models import GAN, VAE, GANConfig, PixelCNN, PixelCNNConfig, VAEConfig
from genmodels.models.input_complexity import compressed_length_nats
from genmodels.training import Trainer, TrainerConfig


@pytest.fixture(scope="module")
def gaussian_model(tmp_path_factory) -> DiagonalGaussian:
    """A density fitted to N(0, I) in 8 dimensions: exact likelihood, so exact anomaly scores."""
    torch.manual_seed(0)
    normal = torch.randn(2000, 8)
    model = DiagonalGaussian(DiagonalGaussianConfig(data_shape=(8,)))
    config = TrainerConfig(max_steps=400, batch_size=200, learning_rate=0.05, progress_bar=False, tensorboard=False)
    Trainer(config, tmp_path_factory.mktemp("gaussian")).fit(model, {"x": normal})
    return model.eval()


def test_planted_outliers_are_found(gaussian_model):
    generator = torch.Generator().manual_seed(1)
    normal = torch.randn(300, 8, generator=generator)
    outliers = torch.randn(30, 8, generator=generator) + 4.0
    scores = anomaly_scores(gaussian_model, torch.cat([normal, outliers]))
    truth = np.r_[np.zeros(300, bool), np.ones(30, bool)]
    assert detection_metrics(scores, truth)["auroc"] > 0.99


def test_threshold_hits_the_requested_false_positive_rate_on_new_normal_data(gaussian_model, tmp_path):
    generator = torch.Generator().manual_seed(2)
    detector = Detector(gaussian_model, false_positive_rate=0.1).fit(torch.randn(4000, 8, generator=generator))
    flagged = detector.predict(torch.randn(4000, 8, generator=generator)).mean()
    assert abs(flagged - 0.1) < 0.02  # about 3 standard errors of two 4,000-row estimates
    detector.save(tmp_path)
    restored = Detector.load(gaussian_model, tmp_path)
    assert restored.threshold == detector.threshold and restored.score_name == "nll"
    with pytest.raises(ValueError, match="exactly one"):
        Detector(gaussian_model, false_positive_rate=0.1, contamination=0.1)
    with pytest.raises(RuntimeError, match="not calibrated"):
        Detector(gaussian_model).predict(torch.zeros(2, 8))


def test_stochastic_scores_are_deterministic_under_a_seed(binary_images):
    torch.manual_seed(0)
    vae = VAE(VAEConfig(data_shape=(1, 8, 8), latent_dim=4, hidden_dim=32))
    first = anomaly_scores(vae, binary_images, "negative_elbo", seed=3)
    assert np.array_equal(first, anomaly_scores(vae, binary_images, "negative_elbo", seed=3))
    assert not np.array_equal(first, anomaly_scores(vae, binary_images, "negative_elbo", seed=4))


def test_each_family_offers_its_documented_scores_and_maps(binary_images):
    torch.manual_seed(0)
    vae = VAE(VAEConfig(data_shape=(1, 8, 8), latent_dim=4, hidden_dim=32))
    gan = GAN(GANConfig(data_shape=(1, 8, 8)))
    pixelcnn = PixelCNN(PixelCNNConfig(data_shape=(1, 8, 8), channels=8, num_layers=1))
    assert available_scores(vae) == ["nll", "negative_elbo", "reconstruction", "input_complexity"]
    assert available_scores(gan) == ["critic"] and available_scores(pixelcnn) == ["nll", "input_complexity"]
    with pytest.raises(ValueError, match="does not apply"):
        anomaly_scores(gan, binary_images, "nll")
    pixel_map = pixel_anomaly_map(pixelcnn, binary_images[:4])
    assert pixel_map.shape == (4, 1, 8, 8) and (pixel_map >= 0).all()
    with torch.no_grad():  # the map adds up to the exact negative log-likelihood
        assert torch.allclose(pixel_map.flatten(1).sum(1), pixelcnn.score(binary_images[:4]), atol=1e-4)
    assert pixel_anomaly_map(vae, binary_images[:4]).shape == (4, 1, 8, 8)
    with pytest.raises(ValueError, match="no per-pixel"):
        pixel_anomaly_map(gan, binary_images[:4])


def test_input_complexity_is_the_compressed_length():
    flat = torch.zeros(1, 1, 28, 28)
    noise = torch.rand(1, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    flat_length, noise_length = compressed_length_nats(torch.cat([flat, noise]))
    assert 0 < flat_length < noise_length


def test_detection_metrics_match_hand_computed_values():
    scores = np.array([0.1, 0.2, 0.3, 0.9, 0.4, 0.8])
    truth = np.array([0, 0, 0, 1, 0, 1], bool)
    metrics = detection_metrics(scores, truth, threshold=0.35)
    assert metrics["auroc"] == 1.0 and metrics["auprc"] == 1.0
    # flagged: 0.9, 0.4, 0.8 -> precision 2/3, recall 1, F1 0.8, FPR 1/4
    assert metrics["precision"] == pytest.approx(2 / 3) and metrics["f1"] == pytest.approx(0.8)
    assert metrics["false_positive_rate"] == pytest.approx(0.25)
    with pytest.raises(ValueError, match="both normal"):
        detection_metrics(scores, np.ones(6, bool))


def test_protocols_run_every_score_and_baseline_on_the_same_split():
    result = run_protocol("breast-cancer", "tabular-vae", trainer_config={"max_steps": 60, "val_every": 30})
    assert set(result["mean_auroc"]) == {
        "tabular-vae:nll", "tabular-vae:negative_elbo", "tabular-vae:reconstruction", "isolation_forest",
        "one_class_svm",
    }  # fmt: skip
    assert all(0.5 < value <= 1 for value in result["mean_auroc"].values())  # malignant tumours are separable
    images = run_protocol("one-class", "vae", {"hidden_dim": 32}, {"max_steps": 30}, data_name="digits", classes=[0])
    assert list(images["auroc"]) == ["class 0"] and "vae:reconstruction" in images["mean_auroc"]


@pytest.mark.parametrize("model_name", ["tabular-vae", "tabular-made"])
def test_detect_commands_fit_score_and_evaluate_a_table(tmp_path, model_name):
    rng = np.random.default_rng(0)
    normal = pd.DataFrame({"x": rng.normal(0, 1, 400), "y": rng.normal(0, 1, 400), "kind": rng.choice(["a", "b"], 400)})
    normal.to_csv(tmp_path / "normal.csv", index=False)
    new = pd.DataFrame(
        {
            "x": np.r_[rng.normal(0, 1, 50), rng.normal(6, 1, 10)],
            "y": rng.normal(0, 1, 60),
            "kind": rng.choice(["a", "b"], 60),
            "label": np.r_[np.zeros(50), np.ones(10)].astype(int),
        }
    )
    new.to_csv(tmp_path / "new.csv", index=False)
    run, runner = tmp_path / "run", CliRunner()
    result = runner.invoke(app, ["detect", "fit", "--model", model_name, "--data", str(tmp_path / "normal.csv"),
                                 "-o", str(run), "--max-steps", "300", "--fpr", "0.05"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads((run / "detector.json").read_text())["false_positive_rate"] == 0.05
    result = runner.invoke(app, ["detect", "score", str(run), str(tmp_path / "new.csv"), "-o", str(tmp_path / "s.csv")])
    assert result.exit_code == 0, result.output
    scores = pd.read_csv(tmp_path / "s.csv")
    per_column = ["nll:x", "nll:y", "nll:kind"] if model_name == "tabular-made" else []
    assert list(scores.columns) == ["row", "score", "flag", "rank", *per_column]
    assert sorted(scores["rank"]) == list(range(1, 61))
    if per_column:  # the planted rows are unlikely because of x, and the columns add up to the score
        assert (scores.loc[50:, per_column].idxmax(axis=1) == "nll:x").all()
        assert np.allclose(scores[per_column].sum(axis=1), scores["score"], rtol=1e-4)
    assert scores.loc[scores["rank"] == 1, "score"].item() == scores["score"].max()
    result = runner.invoke(app, ["detect", "evaluate", str(run), str(tmp_path / "new.csv"), "--labels", "label"])
    assert result.exit_code == 0, result.output
    evaluation = json.loads((run / "detection" / "evaluation.json").read_text())
    assert evaluation["auroc"] > 0.9 and (run / "detection" / "roc_curve.png").is_file()
    new.drop(columns="kind").to_csv(tmp_path / "bad.csv", index=False)
    result = runner.invoke(app, ["detect", "score", str(run), str(tmp_path / "bad.csv")])
    assert result.exit_code != 0 and "lacks column(s) ['kind']" in str(result.exception)

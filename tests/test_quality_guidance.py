"""Numbers with a sense of good and bad: the real-data floor beside sample quality, and signs of an untrained model."""

import json

import pytest
from typer.testing import CliRunner

from genmodels.cli.main import app
from genmodels.data import DataSpec, load_data
from genmodels.evaluation.generated import real_data_floor
from genmodels.models import DCGAN, GAN, DCGANConfig, GANConfig
from genmodels.runs.report import quality_notes
from genmodels.training import FitResult

runner = CliRunner()
TINY = ["--max-steps", "20", "--batch-size", "32", "--val-every", "10", "--checkpoint-every", "10", "--no-progress"]


def fit_result(validation: dict) -> FitResult:
    return FitResult(20, False, None, None, validation, 1.0, 100.0)


def test_the_floor_takes_as_many_real_held_out_images_as_the_model_has_samples():
    data = load_data(DataSpec(name="digits"))
    floor = real_data_floor(data, ["prd", "classes"], num_candidates=100)
    assert floor["candidate_images"] == 100
    assert floor["reference_images"] == len(data.train.images)
    assert floor["classes_produced"] == 10  # real digits are of every class
    again = real_data_floor(data, ["prd"], num_candidates=100)
    assert again["precision"] == floor["precision"]  # a seeded draw
    everything = real_data_floor(data, ["prd"], num_candidates=10**6)
    assert everything["candidate_images"] == len(data.validation.images) + len(data.test.images)


def test_a_young_ema_and_a_winning_discriminator_are_named():
    gan = DCGAN(DCGANConfig(data_shape=(1, 8, 8), latent_dim=4, generator_channels=4, discriminator_channels=4))
    gan.ema_updates.fill_(90)
    signs = gan.untrained_signs({"discriminator_accuracy": 1.0})
    assert len(signs) == 2
    assert signs[0].startswith("discriminator accuracy 1.00 at the end")
    assert "ema_decay 0.999" in signs[1] and "has had 90, fewer than 3000" in signs[1]
    gan.ema_updates.fill_(3000)
    assert gan.untrained_signs({"discriminator_accuracy": 0.7}) == []


def test_a_gan_without_ema_and_a_vae_show_no_sign():
    gan = GAN(GANConfig(data_shape=(1, 8, 8), latent_dim=4))
    assert gan.untrained_signs({"discriminator_accuracy": 0.6}) == []


def test_notes_name_a_single_class_and_read_few_sample_precision_against_its_floor():
    gan = GAN(GANConfig(data_shape=(1, 8, 8), latent_dim=4))
    test = {
        "sample_quality": {
            "classes_produced": 1,
            "num_classes": 10,
            "candidate_images": 200,
            "nearest_k": 5,
            "precision": 0.909,
            "recall": 0.0,
        },
        "sample_quality_floor": {"precision": 0.71, "recall": 0.74},
    }
    notes = quality_notes(gan, fit_result({}), test)
    assert notes[0] == "the samples fall in one class of 10: an untrained or collapsed generator"
    assert "from 200 samples (k = 5)" in notes[1] and "precision 0.710, recall 0.740" in notes[1]
    many = {**test, "sample_quality": {**test["sample_quality"], "candidate_images": 2000, "classes_produced": 10}}
    assert quality_notes(gan, fit_result({}), many) == []


@pytest.fixture(scope="module")
def short_dcgan_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("runs") / "dcgan"
    arguments = ["train", "dcgan", "--data", "digits", "-o", str(run_dir), "--final-eval", "quick", *TINY]
    result = runner.invoke(
        app, [*arguments, "--set", "model.generator_channels=8", "--set", "model.discriminator_channels=8"]
    )
    assert result.exit_code == 0, result.output
    return run_dir, result.output


def test_a_short_dcgan_run_reports_the_floor_and_its_young_ema(short_dcgan_run):
    run_dir, output = short_dcgan_run
    report = json.loads((run_dir / "report.json").read_text())
    quality, floor = report["test"]["sample_quality"], report["test"]["sample_quality_floor"]
    assert floor["candidate_images"] == quality["candidate_images"]
    assert any("EMA generator" in note for note in report["notes"])
    assert "(real data: " in output and "note" in output
    assert f"(real data: {floor['precision']:.4g})" in output


def test_evaluate_prints_the_floor_beside_each_metric(short_dcgan_run):
    run_dir, _ = short_dcgan_run
    result = runner.invoke(app, ["evaluate", str(run_dir), "--metrics", "prd", "--num-samples", "100"])
    assert result.exit_code == 0, result.output
    precision = [line for line in result.output.splitlines() if line.startswith("samples precision")]
    assert len(precision) == 1 and "(real data: " in precision[0]
    saved = json.loads((run_dir / "evaluation-test.json").read_text())
    assert saved["sample_quality_floor"]["candidate_images"] == 100

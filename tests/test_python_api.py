"""One Python call does what ``genmodels train`` does, and results carry no autograd state."""

import subprocess
import sys
import warnings

import pytest
import torch

import genmodels
from genmodels.models import VAE, VAEConfig
from genmodels.training import Trainer, TrainerConfig

QUIET = {"batch_size": 32, "val_every": 10, "checkpoint_every": 10, "progress_bar": False, "tensorboard": False}


def test_genmodels_train_is_exported_lazily():
    code = "import genmodels, sys; print('genmodels.runs' in sys.modules); print(genmodels.train.__module__)"
    lines = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert lines == ["False", "genmodels.runs.train"]
    assert "train" in genmodels.__all__ and "RunOutcome" in genmodels.__all__


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    output = tmp_path_factory.mktemp("runs") / "vae"
    return genmodels.train("vae", "digits", output, max_steps=30, trainer=QUIET, final_eval="quick")


def test_train_returns_the_model_history_report_and_pictures(run, tmp_path_factory):
    assert run.run_dir.is_dir() and (run.run_dir / "model" / "config.json").is_file()
    assert run.fit.steps == 30
    assert not run.model.training
    assert set(run.history["split"]) == {"train", "validation"}
    assert run.history["step"].max() == 30
    assert run.report["final_evaluation"] == "quick"
    assert "negative_log_likelihood" in run.report["test"]["likelihood"]
    assert {"samples", "training_curves", "reconstructions"} <= set(run.pictures)
    assert all(path.is_file() for path in run.pictures.values())


def test_results_of_a_trained_model_carry_no_graph_and_raise_no_warning(run):
    images = run.data.test.images[:8]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for result in (run.model.elbo(images), run.model.log_prob(images), run.model.score(images)):
            assert not result.requires_grad and result.grad_fn is None
            assert torch.isfinite(result).all() and result.shape == (8,)
        float(run.model.elbo(images).mean())


def test_train_refuses_a_data_section_without_a_name(tmp_path):
    with pytest.raises(ValueError, match="data needs a name"):
        genmodels.train("vae", {"binarize": True}, tmp_path / "x")


def test_trainer_fit_ends_in_eval_mode_and_training_mode_keeps_the_graph(binary_images, tmp_path):
    model = VAE(VAEConfig(data_shape=(1, 8, 8), hidden_dim=16, latent_dim=2))
    config = TrainerConfig(max_steps=2, accelerator="cpu", **{**QUIET, "batch_size": 16})
    Trainer(config, tmp_path).fit(model, {"x": binary_images})
    assert not model.training
    assert not model.elbo(binary_images[:4]).requires_grad
    model.train()
    assert model.elbo(binary_images[:4]).requires_grad  # a loss built on it still trains

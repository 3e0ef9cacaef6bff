"""The command line end to end on tiny runs: train, sample, evaluate, list, resume, errors."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file
from typer.testing import CliRunner

import genmodels
from genmodels.cli.main import app
from genmodels.transfer.finetuning import locate_base

runner = CliRunner()
SRC = Path(__file__).parents[1] / "src"
TINY = ["--max-steps", "30", "--batch-size", "32", "--val-every", "10", "--checkpoint-every", "10", "--no-progress"]


def invoke(*args: str):
    result = runner.invoke(app, [str(arg) for arg in args])
    assert result.exit_code == 0, f"{result.output}\n{result.exception!r}"
    return result


@pytest.fixture(scope="module")
def vae_run(tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("runs") / "vae"
    invoke("train", "vae", "--data", "digits", "-o", run_dir, *TINY)
    return run_dir


def test_train_writes_a_complete_run_directory(vae_run):
    for name in (
        "run.json",
        "history.csv",
        "report.json",
        "samples.png",
        "training_curves.png",
        "latent_map.png",
        "manifold.png",
        "model/config.json",
        "model/model.safetensors",
        "checkpoints/last.safetensors",
    ):
        assert (vae_run / name).is_file(), name
    assert any((vae_run / "tensorboard").iterdir())
    run = json.loads((vae_run / "run.json").read_text())
    assert run["model"] == "vae" and run["data"]["name"] == "digits" and run["data"]["binarize"] is True
    assert run["trainer"]["seed"] == 0 and "torch" in run["versions"] and run["data_info"]["sha256"]
    report = json.loads((vae_run / "report.json").read_text())
    elbo, nll = report["test"]["likelihood"]["negative_elbo"], report["test"]["likelihood"]["negative_log_likelihood"]
    assert nll["importance_samples"] == 1000 and 0 < nll["nats"] < elbo["nats"], "IWAE is the tighter bound"
    assert elbo["bits_per_dim"] == pytest.approx(elbo["nats"] / (64 * np.log(2)))
    assert report["pictures"]["reconstructions"].endswith("reconstructions.png")


def test_sample_png_and_npy(vae_run, tmp_path):
    invoke("sample", vae_run, "-n", "16", "-o", tmp_path / "grid.png")
    assert Image.open(tmp_path / "grid.png").size[0] >= 512
    invoke("sample", vae_run, "-n", "5", "--format", "npy", "-o", tmp_path / "a.npy", "--seed", "2")
    invoke("sample", vae_run, "-n", "5", "--format", "npy", "-o", tmp_path / "b.npy", "--seed", "2")
    first, second = np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy")
    assert first.shape == (5, 1, 8, 8) and np.array_equal(first, second)


def test_evaluate_prints_and_writes_negative_elbo(vae_run):
    result = invoke("evaluate", vae_run, "--importance-samples", "50")
    assert "test negative_elbo" in result.output and "bits/dim" in result.output
    assert "test negative_log_likelihood" in result.output and "K=50" in result.output
    evaluation = json.loads((vae_run / "evaluation-test.json").read_text())
    assert (
        evaluation["likelihood"]["negative_log_likelihood"]["examples"]
        == json.loads((vae_run / "run.json").read_text())["data_info"]["sizes"]["test"]
    )
    again = invoke("evaluate", vae_run, "--importance-samples", "50")
    assert again.output.splitlines()[0] == result.output.splitlines()[0], "evaluation is seeded"


def test_latent_tools_commands(vae_run, tmp_path):
    invoke("interpolate", vae_run, "--index", "3", "17", "--steps", "7", "-o", tmp_path / "strip.png")
    strip = Image.open(tmp_path / "strip.png")
    assert strip.size[0] > 2.5 * strip.size[1], "a single row of 7 images, with a title and labels"
    invoke("interpolate", vae_run, "--index", "3", "17", "--method", "spherical", "-o", tmp_path / "s.png")
    invoke("reconstruct", vae_run, "-n", "8", "-o", tmp_path / "recon.png")
    invoke("traverse", vae_run, "--index", "2", "-o", tmp_path / "traverse.png")
    assert all((tmp_path / name).is_file() for name in ("s.png", "recon.png", "traverse.png"))
    result = runner.invoke(app, ["interpolate", str(vae_run), "--index", "0", "100000"])
    assert result.exit_code != 0 and "outside" in result.output


def test_gan_run_and_listing_commands(tmp_path):
    invoke("train", "gan", "--data", "digits", "-o", tmp_path / "gan", *TINY)
    report = json.loads((tmp_path / "gan" / "report.json").read_text())
    assert "likelihood" not in report["test"] and "discriminator_loss" in report["test"]["losses"]
    assert "vae" in invoke("models").output and "gan" in invoke("models").output
    listing = invoke("datasets").output
    assert "digits" in listing and "mnist5k" in listing and "grid25" in listing


def test_conditional_dcgan_run_sample_quality_and_labelled_samples(tmp_path):
    run = tmp_path / "dcgan"
    model_settings = ["--set", "model.num_classes=10", "--set", "model.generator_channels=8"]
    invoke("train", "dcgan", "--data", "digits", "-o", run, *TINY, *model_settings)
    quality = json.loads((run / "report.json").read_text())["test"]["sample_quality"]
    assert {"fd_digits", "precision", "recall", "density", "coverage", "classes_produced"} <= set(quality)
    output = invoke("evaluate", run, "--metrics", "fd,prd", "--num-samples", "50", "-o", tmp_path / "e.json").output
    assert "fd_digits" in output
    evaluation = json.loads((tmp_path / "e.json").read_text())["sample_quality"]
    assert evaluation["candidate_images"] == 50 and "coverage" not in evaluation and "recall" in evaluation
    invoke("sample", run, "-n", "8", "--label", "3", "--truncation", "0.5", "--format", "npy", "-o", tmp_path / "s.npy")
    assert np.load(tmp_path / "s.npy").shape == (8, 1, 8, 8)
    result = runner.invoke(app, ["evaluate", str(run), "--metrics", "inception"])
    assert result.exit_code != 0 and "unknown metric" in result.output


def test_gan_on_the_grid_test_bed_reports_modes(tmp_path):
    invoke("train", "gan", "--data", "grid25", "-o", tmp_path / "grid", *TINY)
    modes = json.loads((tmp_path / "grid" / "report.json").read_text())["test"]["modes"]
    assert modes["modes"] == 25 and modes["samples"] == 2500 and 0 <= modes["modes_recovered"] <= 25
    assert (tmp_path / "grid" / "samples.png").is_file()


def test_features_train_writes_a_network_that_evaluate_can_use(tmp_path, monkeypatch):
    monkeypatch.setenv("GENMODELS_FEATURE_NETWORKS", str(tmp_path / "features"))
    assert "test accuracy" in invoke("features", "train", "--data", "digits", "--epochs", "1").output
    assert (tmp_path / "features" / "digits" / "model.safetensors").is_file()


def test_help_has_examples():
    for command in (
        "train",
        "sample",
        "evaluate",
        "datasets",
        "models",
        "demo",
        "reconstruct",
        "interpolate",
        "traverse",
    ):
        assert "Examples" in invoke(command, "--help").output
    assert "Examples" in invoke("features", "train", "--help").output


def test_existing_run_is_not_overwritten_and_bad_input_is_explained(vae_run, tmp_path):
    result = runner.invoke(app, ["train", "vae", "--data", "digits", "-o", str(vae_run), *TINY])
    assert result.exit_code != 0 and "--resume" in str(result.exception)
    result = runner.invoke(app, ["train", "vae", "--data", "no-such-set", "-o", str(tmp_path / "x"), *TINY])
    assert result.exit_code != 0 and "no-such-set" in str(result.exception)
    result = runner.invoke(app, ["train", "vae", "--data", "digits", "--no-binarize", "-o", str(tmp_path / "y"), *TINY])
    assert result.exit_code != 0 and "binary data" in str(result.exception)
    result = runner.invoke(
        app, ["train", "vae", "--data", "digits", "--set", "model.depth=3", "-o", str(tmp_path / "z")]
    )
    assert result.exit_code != 0 and "depth" in str(result.exception)


def test_config_file_and_set_overrides(tmp_path):
    config = tmp_path / "run.toml"
    config.write_text('[model]\nlatent_dim = 3\n[data]\nname = "digits"\n[trainer]\nmax_steps = 10\nbatch_size = 32\n')
    invoke("train", "vae", "--config", config, "--set", "model.hidden_dim=64", "-o", tmp_path / "run", "--no-progress")
    saved = json.loads((tmp_path / "run" / "model" / "config.json").read_text())["config"]
    assert saved["latent_dim"] == 3 and saved["hidden_dim"] == 64
    assert json.loads((tmp_path / "run" / "report.json").read_text())["training"]["steps"] == 10


def test_merge_lora_saves_a_plain_model_that_computes_what_the_adapters_did(vae_run, tmp_path):
    lora, merged_dir = tmp_path / "lora", tmp_path / "merged"
    tiny = ["--max-steps", "10", "--batch-size", "32", "--val-every", "10", "--no-progress", "--lr", "0.01"]
    invoke("finetune", vae_run, "--data", "digits", "--lora-rank", "2", "-o", lora, *tiny)
    assert "merged" in invoke("merge-lora", lora, "-o", merged_dir).output
    saved = json.loads((merged_dir / "config.json").read_text())
    assert "adapter" not in saved and [path.name for path in merged_dir.glob("*.safetensors")] == ["model.safetensors"]
    assert saved["merged_lora"]["rank"] == 2 and saved["finetuned_from"]["path"] == str((vae_run / "model").resolve())
    adapted, merged = genmodels.load(lora), genmodels.load(merged_dir)
    assert getattr(merged, "lora", None) is None and not any("lora_" in name for name in merged.state_dict())
    images = adapted.sample(8, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(merged.sample(8, generator=torch.Generator().manual_seed(0)), images, atol=1e-5)
    base_images = genmodels.load(vae_run).sample(8, generator=torch.Generator().manual_seed(0))
    assert not torch.allclose(base_images, images, atol=1e-3), "the adapters changed the model"
    binary = (images > 0.5).float()
    torch.manual_seed(1)
    adapted_log_prob = adapted.log_prob(binary)
    torch.manual_seed(1)
    assert torch.allclose(merged.log_prob(binary), adapted_log_prob, atol=1e-5)
    assert locate_base(merged_dir).model_type == "vae", "a merged model can be fine-tuned again"
    assert "merged LoRA" in invoke("info", merged_dir).output

    again = runner.invoke(app, ["merge-lora", str(lora), "-o", str(merged_dir)])
    assert again.exit_code != 0 and "already exists" in str(again.exception)
    retune = runner.invoke(app, ["finetune", str(lora), "--data", "digits", "-o", str(tmp_path / "x")])
    assert retune.exit_code != 0 and f"genmodels merge-lora {lora} -o MERGED" in str(retune.exception)


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "genmodels", *map(str, args)]


def cli_env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}


@pytest.mark.slow  # about a minute: two real training processes, one killed
def test_killed_run_resumes_to_the_uninterrupted_weights(tmp_path):
    """SIGKILL a real training process after a checkpoint, resume it, and compare with a clean run."""
    settings = [
        "--data",
        "digits",
        "--max-steps",
        "400",
        "--batch-size",
        "32",
        "--checkpoint-every",
        "50",
        "--val-every",
        "100",
        "--no-progress",
    ]
    subprocess.run(
        cli("train", "vae", *settings, "-o", tmp_path / "clean"),
        env=cli_env(),
        check=True,
        capture_output=True,
        timeout=300,
    )
    process = subprocess.Popen(
        cli("train", "vae", *settings, "-o", tmp_path / "killed"),
        env=cli_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    checkpoint = tmp_path / "killed" / "checkpoints" / "last.safetensors"
    deadline = time.time() + 120
    while not checkpoint.exists() and time.time() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (tmp_path / "killed" / "model").exists(), "the run was killed before it finished"
    subprocess.run(
        cli("train", "vae", *settings, "-o", tmp_path / "killed", "--resume"),
        env=cli_env(),
        check=True,
        capture_output=True,
        timeout=300,
    )
    clean = load_file(str(tmp_path / "clean" / "model" / "model.safetensors"))
    resumed = load_file(str(tmp_path / "killed" / "model" / "model.safetensors"))
    assert all((clean[name] == resumed[name]).all() for name in clean)


def test_resume_refuses_changed_settings(vae_run):
    result = runner.invoke(
        app, ["train", "vae", "--data", "digits", "-o", str(vae_run), "--resume", *TINY, "--lr", "0.1"]
    )
    assert result.exit_code != 0 and "learning_rate" in str(result.exception)


def test_cli_ddp_on_cpu(tmp_path):
    completed = subprocess.run(
        cli(
            "train",
            "vae",
            "--data",
            "digits",
            "--devices",
            "2",
            "--strategy",
            "ddp",
            "--accelerator",
            "cpu",
            "-o",
            tmp_path / "ddp",
            *TINY,
        ),
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    report = json.loads((tmp_path / "ddp" / "report.json").read_text())
    assert report["training"]["steps"] == 30 and report["run"]["trainer"]["devices"] == 2

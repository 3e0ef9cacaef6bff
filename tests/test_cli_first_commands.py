"""What a new user meets first, through the command line: list options as the docs write them, ensembles of
differently prepared members, evaluation that says what it cannot compute, output formats from the file
name, n/a molecule metrics, a LoRA refusal that says what to do, the files a command writes."""

import json
import os
import stat
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file
from tiny_generators import tiny_char_rnn
from typer.testing import CliRunner

import genmodels
import genmodels.applications.anomaly.protocols as protocols
from genmodels.applications.molecules.metrics import moses_metrics
from genmodels.cli.lists import expand_list_options
from genmodels.cli.main import app
from genmodels.data import DataSpec
from genmodels.errors import GenmodelsError
from genmodels.io.files import write_text_atomic

runner = CliRunner()
SRC = Path(__file__).parents[1] / "src"
TINY = ["--max-steps", "20", "--batch-size", "32", "--val-every", "10", "--no-progress"]


def invoke(*args: object):
    result = runner.invoke(app, [str(arg) for arg in args])
    assert result.exit_code == 0, f"{result.output}\n{result.exception!r}"
    return result


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    """A binarized digits VAE and two grey-image GANs, as the README trains them (tiny budgets)."""
    root = tmp_path_factory.mktemp("runs")
    invoke("train", "vae", "--data", "digits", "-o", root / "vae-digits", *TINY)
    for seed, name in ((0, "gan-a"), (1, "gan-b")):
        invoke("train", "gan", "--data", "digits", "--seed", seed, "-o", root / name, *TINY)
    return root


def plain(output: str) -> str:
    """Printed text with rich's line wrapping and box edges taken out."""
    return " ".join(output.replace("│", " ").split())


def protocol_arguments(monkeypatch, *options: str) -> dict:
    seen: dict = {}

    def run_protocol(name, model, model_settings, trainer, data, classes, seeds):
        seen.update(classes=classes, seeds=seeds, model_settings=model_settings)
        return {"mean_auroc": {"model": 0.5}}

    monkeypatch.setattr(protocols, "run_protocol", run_protocol)
    monkeypatch.chdir(Path(os.environ.get("TMPDIR", "/tmp")))
    invoke("detect", "protocol", "breast-cancer", "--model", "tabular-made", *options, "-o", "protocol.json")
    return seen


@pytest.mark.parametrize(
    "options",
    [
        ["--seeds", "0", "1", "2", "--classes", "3", "4"],
        ["--seeds", "0,1,2", "--classes=3,4"],
        ["--seeds", "0", "--seeds", "1", "--seeds", "2", "--classes", "3", "--classes", "4"],
    ],
)
def test_list_options_take_spaces_commas_and_repeats(monkeypatch, options):
    seen = protocol_arguments(monkeypatch, *options, "--set", "model.hidden=[8,8]", "trainer.max_steps=3")
    assert seen["seeds"] == [0, 1, 2] and seen["classes"] == [3, 4]
    assert seen["model_settings"] == {"hidden": [8, 8]}  # a text value keeps its commas


def test_list_expansion_stops_at_the_next_option_and_at_double_dash():
    from typer.main import get_command

    params = get_command(app).commands["detect"].commands["protocol"].params
    assert expand_list_options(params, ["--seeds", "0", "1", "--max-steps", "5", "--", "2"]) == [
        "--seeds", "0", "--seeds", "1", "--max-steps", "5", "--", "2",
    ]  # fmt: skip
    assert expand_list_options(params, ["--seeds", "-1", "2"]) == ["--seeds", "-1", "--seeds", "2"]


def test_every_list_option_renders_in_help():
    for command in (["detect", "protocol"], ["ensemble", "create"], ["finetune"], ["generate"], ["train"]):
        assert "Usage" in invoke(*command, "--help").output


def test_an_ensemble_of_binarized_and_grey_members_votes_samples_and_evaluates(runs, tmp_path):
    members = [runs / "gan-a", runs / "gan-b", runs / "vae-digits"]
    ensemble = tmp_path / "ens"
    invoke("ensemble", "create", *members, "-o", ensemble, "--strategy", "vote", "--aggregation", "majority",
           "--calibrate")  # fmt: skip
    config = json.loads((ensemble / "model" / "config.json").read_text())["config"]
    assert config["member_binarized"] == [False, False, True]
    invoke("sample", ensemble, "--strategy", "vote", "-n", "8", "-o", tmp_path / "voted.png")
    model = genmodels.load(ensemble)
    grey = torch.full((2, 1, 8, 8), 0.7)
    assert torch.equal(model.member_input(2, grey), torch.ones(2, 1, 8, 8)) and model.member_input(0, grey) is grey

    shown = invoke("evaluate", ensemble, "-o", tmp_path / "evaluation.json").output
    assert "n/a: member 0 (gan), member 1 (gan) have no likelihood" in plain(shown) and "samples fd_digits" in shown
    record = json.loads((tmp_path / "evaluation.json").read_text())
    assert "likelihood" not in record and "have no likelihood" in record["not_available"]["likelihood"]


def test_a_mixture_of_binarized_and_grey_likelihoods_says_it_has_none(runs, tmp_path):
    invoke("train", "vae", "--data", "digits", "--no-binarize", "--set", "model.likelihood=continuous_bernoulli",
           "-o", tmp_path / "grey-vae", *TINY)  # fmt: skip
    invoke("ensemble", "create", runs / "vae-digits", tmp_path / "grey-vae", "--weights", "0.5", "0.5", "-o",
           tmp_path / "ens")  # fmt: skip
    model = genmodels.load(tmp_path / "ens")
    assert model.weights.tolist() == [0.5, 0.5]
    assert "member 0 (vae) model binarized pixels" in model.likelihood_missing
    assert "n/a" in invoke("evaluate", tmp_path / "ens", "--metrics", "none").output


def test_an_unknown_sampling_control_is_one_line_naming_what_the_model_takes(runs):
    result = runner.invoke(app, ["sample", str(runs / "vae-digits"), "--truncation", "0.5"])
    assert result.exit_code != 0 and isinstance(result.exception, ValueError)  # main() prints it as one line
    assert "truncation" in str(result.exception) and "labels" in str(result.exception)
    completed = subprocess.run(
        [sys.executable, "-m", "genmodels", "sample", str(runs / "vae-digits"), "--truncation", "0.5"],
        capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(SRC)},
    )  # fmt: skip
    assert completed.returncode == 1 and "Traceback" not in completed.stderr
    assert completed.stderr.strip().startswith("error:") and "labels" in completed.stderr


def test_sample_writes_the_format_its_file_name_says(runs, tmp_path):
    for suffix in (".npy", ".npz", ".safetensors", ".png"):
        invoke("sample", runs / "vae-digits", "-n", "8", "-o", tmp_path / f"s{suffix}")
    assert np.load(tmp_path / "s.npy").shape == (8, 1, 8, 8)
    assert np.load(tmp_path / "s.npz")["samples"].shape == (8, 1, 8, 8)
    assert load_file(tmp_path / "s.safetensors")["samples"].shape == (8, 1, 8, 8)
    assert np.array_equal(np.load(tmp_path / "s.npy"), np.load(tmp_path / "s.npz")["samples"])  # same seed
    for name, message in (("s.pt", "cannot tell the format"), ("s.txt", "txt is for text models")):
        result = runner.invoke(app, ["sample", str(runs / "vae-digits"), "-o", str(tmp_path / name)])
        assert result.exit_code != 0 and message in plain(result.output)
        assert not (tmp_path / name).exists()


def test_new_files_get_the_umask_mode(runs, tmp_path):
    old = os.umask(0o022)
    try:
        write_text_atomic(tmp_path / "a.txt", "x")
        invoke("sample", runs / "vae-digits", "-n", "4", "-o", tmp_path / "s.npy")
    finally:
        os.umask(old)
    for name in ("a.txt", "s.npy"):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o644, name


def test_molecule_metrics_that_cannot_be_computed_read_na_at_once(tmp_path):
    generated = ["CC(=O)Oc1ccccc1C(=O)O", *["C1CC((" for _ in range(199)]]
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        metrics = moses_metrics(generated, train=["CCO"], test=["CCO", "CCN"], fcd=True)
    assert metrics["valid"] == pytest.approx(1 / 200) and metrics["unique@10000"] is None
    assert metrics["FCD/Test"] is None and metrics["SNN/Test"] is None and metrics["QED"] is None
    assert metrics["IntDiv"] == pytest.approx(0.0) and metrics["Novelty"] == 1.0

    (tmp_path / "gen.smi").write_text("\n".join(generated) + "\n")
    (tmp_path / "ref.smi").write_text("CCO\nCCN\nc1ccccc1\n")
    shown = plain(invoke("molecules", "evaluate", tmp_path / "gen.smi", "--reference", tmp_path / "ref.smi").output)
    assert "unique@10000: n/a" in shown and "FCD/Test: n/a" in shown and "1 of 200 are valid" in shown
    record = json.loads((tmp_path / "gen.metrics.json").read_text())
    assert record["metrics"]["unique@1000"] is None and record["properties_plot"] is None


def test_molecules_generate_names_every_file_it_writes(tmp_path):
    corpus = tmp_path / "three.smi"
    corpus.write_text("CCO\nc1ccccc1\nCCN\n" * 300, encoding="utf-8")
    tiny_char_rnn(DataSpec(str(corpus), context_length=24), tmp_path / "train").save_pretrained(tmp_path / "model")
    files = [tmp_path / name for name in ("gen.smi", "gen.csv", "gen.sdf", "gen.png")]
    shown = invoke("molecules", "generate", tmp_path / "model", "-n", "20", "-o", files[0], "--max-length", "20",
                   "--sdf", files[2], "--grid", files[3]).output  # fmt: skip
    assert all(str(path) in shown.replace("\n", "") for path in files), shown
    assert all(path.is_file() for path in files)


def test_lora_on_text_with_new_characters_names_them_and_what_to_do(tmp_path):
    (tmp_path / "base.txt").write_text("the cat sat on the mat. " * 400, encoding="utf-8")
    (tmp_path / "new.txt").write_text("the café sat on the mat € " * 400, encoding="utf-8")
    small = ["--set", "model.hidden_dim=16", "--set", "model.num_layers=1", "--set", "data.context_length=16"]
    invoke("train", "charrnn", "--data", tmp_path / "base.txt", "-o", tmp_path / "base", *small, *TINY)
    result = runner.invoke(app, ["finetune", str(tmp_path / "base"), "--data", str(tmp_path / "new.txt"),
                                 "--lora-rank", "4", "-o", str(tmp_path / "tuned"), *TINY])  # fmt: skip
    message = str(result.exception)
    assert result.exit_code != 0 and isinstance(result.exception, GenmodelsError)
    assert "'é'" in message and "'€'" in message and "leave out --lora-rank" in message


def test_the_summary_prints_each_figure_once_and_the_run_name_says_what_the_model_is(runs, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    shown = invoke("train", "vae", "--data", "digits", "--set", "model.objective=iwae", "--set",
                   "model.num_classes=10", *TINY).output  # fmt: skip
    assert (tmp_path / "runs" / "vae-conditional-iwae-digits" / "report.json").is_file()
    assert shown.count("test negative_elbo") <= 1
    evaluated = invoke("evaluate", runs / "vae-digits", "--metrics", "none").output
    assert evaluated.count("test negative_elbo") == 1

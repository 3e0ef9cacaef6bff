"""Long work shows its progress: bars on a terminal, lines in a log, a warning before a long run, --quick."""

import io
import json
import re
import time

import pytest
from rich.console import Console
from typer.testing import CliRunner

from genmodels.cli.main import app
from genmodels.io import progress as progress_module
from genmodels.io.progress import PhaseProgress, format_duration
from genmodels.models import PixelCNN, PixelCNNConfig
from genmodels.runs.report import QUICK_MIN_SAMPLES, quick_sample_count
from genmodels.training import progress as training_progress
from genmodels.training.progress import TrainingProgress

runner = CliRunner()
TINY = ["--max-steps", "30", "--batch-size", "32", "--val-every", "10", "--checkpoint-every", "10", "--no-progress"]


def plain_console(width: int = 120) -> Console:
    return Console(file=io.StringIO(), width=width, force_terminal=False)


def test_format_duration_reads_like_a_person_writes():
    assert [format_duration(s) for s in (42, 200, 6360)] == ["42 s", "3 min 20 s", "1 h 46 min"]


def test_outside_a_terminal_a_phase_writes_a_line_every_interval_and_when_done(monkeypatch):
    monkeypatch.setenv(progress_module.LOG_SECONDS_VARIABLE, "0.05")
    console = plain_console()
    with PhaseProgress("final evaluation", 4, "batches", console=console) as shown:
        for _ in range(4):
            time.sleep(0.08)
            shown.advance()
    lines = console.file.getvalue().splitlines()
    assert len(lines) >= 3
    assert re.fullmatch(r"final evaluation: [0-4]/4 batches \(\d+%\), \d+ s elapsed.*", lines[0])
    assert lines[-1].startswith("final evaluation: done in ")


def test_a_phase_shorter_than_the_interval_writes_nothing(monkeypatch):
    monkeypatch.setenv(progress_module.LOG_SECONDS_VARIABLE, "30")
    console = plain_console()
    with PhaseProgress("sampling", 10, "samples", console=console) as shown:
        shown.update(10)
    assert console.file.getvalue() == ""


def test_the_training_bar_fits_80_columns_with_its_counts_and_clocks():
    console = Console(file=io.StringIO(), width=80, force_terminal=True, color_system=None)
    shown = PhaseProgress("training", 5000, "steps", console=console)
    shown.update(1234, "loss 123.4  negative_elbo 123.4  reconstruction 100.2  kl 23.2")
    shown.close()
    lines = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", console.file.getvalue()).replace("\r", "\n").splitlines()
    text = [line for line in lines if line.strip()][-1]
    assert len(text) <= 80
    assert "training" in text and "1234/5000" in text
    assert re.search(r"\d:\d\d:\d\d .*(\d:\d\d:\d\d|-:--:--)", text)  # elapsed, then time left


def test_a_run_whose_steps_take_hours_is_announced_with_the_flags_that_shorten_it(monkeypatch):
    console = plain_console(width=400)
    monkeypatch.setattr(progress_module, "progress_console", console)
    monkeypatch.setattr(training_progress, "SPEED_SAMPLE_STEPS", 2)
    shown = TrainingProgress(1_000_000, 0, is_main=True, show_bar=False)
    for step in (1, 2, 3):
        time.sleep(0.01)
        shown.advance(step)
    shown.close()
    warnings = [line for line in console.file.getvalue().splitlines() if "warning" in line]
    assert len(warnings) == 1  # measured once
    assert "s per step" in warnings[0] and " h " in warnings[0]
    assert "--max-steps" in warnings[0] and "--max-seconds" in warnings[0] and "--quick" in warnings[0]


def test_a_time_budget_that_ends_the_run_soon_is_not_announced(monkeypatch):
    console = plain_console(width=400)
    monkeypatch.setattr(progress_module, "progress_console", console)
    monkeypatch.setattr(training_progress, "SPEED_SAMPLE_STEPS", 2)
    shown = TrainingProgress(1_000_000, 0, is_main=True, show_bar=False, max_seconds=60)
    for step in (1, 2, 3):
        time.sleep(0.01)
        shown.advance(step, seconds_trained=0.03 * step)
    assert "warning" not in console.file.getvalue()


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("runs") / "quick"
    result = runner.invoke(app, ["train", "vae", "--data", "digits", "-o", str(run_dir), "--quick", *TINY])
    assert result.exit_code == 0, result.output
    return run_dir, result.output


def test_quick_sets_a_time_budget_and_a_quick_final_evaluation(quick_run):
    run_dir, output = quick_run
    spec = json.loads((run_dir / "run.json").read_text())
    assert spec["trainer"]["max_seconds"] == 30.0
    report = json.loads((run_dir / "report.json").read_text())
    assert report["final_evaluation"] == "quick"
    likelihood = report["test"]["likelihood"]["negative_log_likelihood"]
    assert likelihood["importance_samples"] == 50
    assert likelihood["examples"] == min(500, report["data"]["sizes"]["test"])
    assert report["test"]["sample_quality"]["candidate_images"] <= 500
    assert "K=50" in output


def test_a_quick_evaluation_draws_what_its_sampler_affords_in_about_30_seconds():
    pixelcnn = PixelCNN(PixelCNNConfig(data_shape=(1, 8, 8), channels=4, num_layers=1))  # 200 in a full report
    assert quick_sample_count(pixelcnn, data=None, seconds_per_sample=None) == 200
    assert quick_sample_count(pixelcnn, data=None, seconds_per_sample=0.01) == 200  # fast: as in the full report
    assert quick_sample_count(pixelcnn, data=None, seconds_per_sample=0.25) == 120  # 30 s / 0.25 s
    assert quick_sample_count(pixelcnn, data=None, seconds_per_sample=5.0) == QUICK_MIN_SAMPLES


def test_quick_keeps_a_time_budget_the_user_gives(tmp_path):
    result = runner.invoke(
        app, ["train", "vae", "--data", "digits", "-o", str(tmp_path / "r"), "--quick", "--max-seconds", "5", *TINY]
    )
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "r" / "run.json").read_text())["trainer"]["max_seconds"] == 5.0


def test_final_eval_none_skips_the_evaluation_and_says_how_to_run_it(tmp_path):
    run_dir = tmp_path / "none"
    result = runner.invoke(app, ["train", "vae", "--data", "digits", "-o", str(run_dir), "--final-eval", "none", *TINY])
    assert result.exit_code == 0, result.output
    report = json.loads((run_dir / "report.json").read_text())
    assert report["test"] == {"split": "test", "skipped": True}
    assert "genmodels evaluate" in result.output
    assert (run_dir / "samples.png").is_file()


def test_an_unknown_final_eval_is_refused_before_training(tmp_path):
    result = runner.invoke(app, ["train", "vae", "--data", "digits", "-o", str(tmp_path / "x"), "--final-eval", "some"])
    assert result.exit_code == 2
    assert "--final-eval must be one of full, quick, none" in result.output
    assert not (tmp_path / "x").exists()

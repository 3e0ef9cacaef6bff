"""Run directories are held by one process at a time, never overwritten, and refused options leave nothing behind."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from genmodels.cli.main import app, main
from genmodels.errors import GenmodelsError, OutputError, RunDirectoryExistsError
from genmodels.io.files import atomic_path, read_json
from genmodels.io.run_directory import LOCK_NAME, claim_output, claim_run_directory

runner = CliRunner()
SRC = Path(__file__).parents[1] / "src"
TINY = ["--max-steps", "4", "--batch-size", "32", "--val-every", "2", "--checkpoint-every", "2", "--no-progress"]
CLAIM_SCRIPT = """
import sys
from genmodels.errors import RunDirectoryBusyError
from genmodels.io.run_directory import claim_run_directory
try:
    with claim_run_directory(sys.argv[1], new=False):
        print("claimed")
except RunDirectoryBusyError as error:
    print(error)
"""


def env() -> dict[str, str]:
    return {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}", "OMP_NUM_THREADS": "1"}


def snapshot(directory: Path) -> dict[str, bytes]:
    """Every file's bytes, but the lock file's: it records the latest holder, refused or not."""
    files = (path for path in directory.rglob("*") if path.is_file() and path.name != LOCK_NAME)
    return {str(path.relative_to(directory)): path.read_bytes() for path in files}


def run_main(monkeypatch, capsys, *args: str) -> tuple[int, str]:
    """The console entry point in this process: its exit code and what it wrote to stderr."""
    monkeypatch.setattr(sys, "argv", ["genmodels", *map(str, args)])
    monkeypatch.setenv("COLUMNS", "1000")  # usage errors in one box line, whatever the path's length
    with pytest.raises(SystemExit) as exit_info:
        main()
    return exit_info.value.code, capsys.readouterr().err


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("runs") / "vae"
    result = runner.invoke(app, ["train", "vae", "--data", "digits", "-o", str(run_dir), *TINY])
    assert result.exit_code == 0, f"{result.output}\n{result.exception!r}"
    return run_dir


# --- the guard itself ---------------------------------------------------------------------------------
def test_a_held_directory_is_refused_to_another_process_with_the_holder_named(tmp_path):
    held = tmp_path / "run"
    with claim_run_directory(held):
        refused = subprocess.run(
            [sys.executable, "-c", CLAIM_SCRIPT, str(held)], env=env(), capture_output=True, text=True, timeout=120
        )
        assert refused.stdout.startswith(f"{held} is in use by another genmodels process (pid {os.getpid()} on ")
        with claim_run_directory(held, new=False):  # the holder itself may claim it again
            pass
    released = subprocess.run(
        [sys.executable, "-c", CLAIM_SCRIPT, str(held)], env=env(), capture_output=True, text=True, timeout=120
    )
    assert released.stdout.strip() == "claimed", released.stderr


def test_a_new_claim_refuses_files_and_a_failed_claim_removes_the_directory_it_created(tmp_path):
    occupied = tmp_path / "occupied"
    occupied.mkdir()
    (occupied / "notes.txt").write_text("mine")
    with pytest.raises(RunDirectoryExistsError, match="notes.txt"), claim_run_directory(occupied):
        pass
    assert snapshot(occupied) == {"notes.txt": b"mine"}
    fresh = tmp_path / "fresh"
    with pytest.raises(ValueError, match="bad option"), claim_run_directory(fresh):
        raise ValueError("bad option")
    assert not fresh.exists()
    with claim_run_directory(fresh):
        (fresh / "run.json").write_text("{}")
    assert (fresh / "run.json").is_file() and (fresh / LOCK_NAME).is_file()


def test_stale_temporaries_of_killed_writes_are_removed_on_the_next_claim(tmp_path):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    stale = [run / "checkpoints" / ".last.safetensors.k1x2.tmp", run / "checkpoints" / ".last.safetensors.z9.tmp"]
    stale[0].write_bytes(b"\0" * 841_000)
    stale[1].write_bytes(b"")
    kept = run / "checkpoints" / "last.safetensors"
    kept.write_bytes(b"checkpoint")
    with claim_run_directory(run, new=False):
        assert not any(path.exists() for path in stale)
    assert kept.read_bytes() == b"checkpoint"


def test_the_atomic_writer_leaves_neither_a_temporary_nor_a_changed_file_on_an_error(tmp_path):
    target = tmp_path / "weights.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError), atomic_path(target) as temporary:
        temporary.write_bytes(b"half")
        raise RuntimeError("killed mid-write")
    assert target.read_bytes() == b"old" and sorted(tmp_path.iterdir()) == [target]


def test_an_output_written_inside_a_held_run_is_refused(tmp_path):
    run = tmp_path / "run"
    with claim_run_directory(run):
        (run / "run.json").write_text("{}")
    script = (
        "import sys\nfrom genmodels.io.run_directory import claim_output\n"
        "with claim_output(sys.argv[1]):\n    print('wrote')"
    )
    with claim_run_directory(run, new=False):
        refused = subprocess.run(
            [sys.executable, "-c", script, str(run / "evaluation-test.json")],
            env=env(),
            capture_output=True,
            text=True,
            timeout=120,
        )
    assert refused.returncode != 0 and "RunDirectoryBusyError" in refused.stderr
    with claim_output(tmp_path / "elsewhere.csv"):  # not inside a run: nothing to hold
        pass


# --- commands -------------------------------------------------------------------------------------------
def test_two_trains_into_one_directory_the_second_is_refused_and_the_first_run_is_whole(tmp_path):
    run_dir = tmp_path / "run"
    settings = ["--data", "digits", "--batch-size", "32", "--val-every", "20", "--no-progress", "-o", run_dir]
    first = subprocess.Popen(
        [sys.executable, "-m", "genmodels", "train", "vae", *map(str, settings), "--max-steps", "30", "--seed", "1"],
        env=env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.time() + 240
    while not (run_dir / LOCK_NAME).is_file() and time.time() < deadline:
        time.sleep(0.05)
    second = subprocess.run(
        [sys.executable, "-m", "genmodels", "train", "vae", *map(str, settings), "--max-steps", "20", "--seed", "2"],
        env=env(),
        capture_output=True,
        text=True,
        timeout=240,
    )
    first_was_running = first.poll() is None
    assert first.wait(timeout=300) == 0, first.stderr.read()[-2000:]
    assert second.returncode == 1, second.stderr
    message = second.stderr.strip()
    assert "Traceback" not in second.stderr and len(message.splitlines()) == 1
    if first_was_running:
        assert f"error: {run_dir} is in use by another genmodels process (pid {first.pid} on " in message
    else:  # the first finished before the second started: its run is refused as an existing one
        assert f"error: {run_dir} already holds files" in message
    run = json.loads((run_dir / "run.json").read_text())
    report = json.loads((run_dir / "report.json").read_text())
    assert run["trainer"]["seed"] == 1 and run["trainer"]["max_steps"] == 30
    assert report["training"]["steps"] == 30 and report["run"]["trainer"]["seed"] == 1
    rows = (run_dir / "history.csv").read_text().splitlines()
    assert rows[0].startswith("step,split,") and all(row.split(",")[0].isdigit() for row in rows[1:])


def test_ensemble_create_into_an_existing_run_is_refused_and_changes_no_byte(tiny_run):
    before, lock = snapshot(tiny_run), (tiny_run / LOCK_NAME).read_bytes()
    result = runner.invoke(app, ["ensemble", "create", str(tiny_run), str(tiny_run), "-o", str(tiny_run)])
    assert isinstance(result.exception, RunDirectoryExistsError) and str(tiny_run) in str(result.exception)
    assert snapshot(tiny_run) == before and (tiny_run / LOCK_NAME).read_bytes() == lock


def test_resume_with_fewer_steps_than_trained_is_refused_and_the_run_is_unchanged(tiny_run):
    before = snapshot(tiny_run)
    args = ["train", "vae", "--data", "digits", "-o", str(tiny_run), "--resume", *TINY[2:], "--max-steps", "2"]
    result = runner.invoke(app, args)
    assert isinstance(result.exception, GenmodelsError)
    assert "has trained 4 steps already; give --max-steps 4 or more" in str(result.exception)
    assert snapshot(tiny_run) == before


def test_resume_removes_stale_checkpoint_temporaries(tiny_run, tmp_path):
    stale = tiny_run / "checkpoints" / ".last.safetensors.a1b2c3.tmp"
    stale.write_bytes(b"\0" * 1000)
    result = runner.invoke(app, ["train", "vae", "--data", "digits", "-o", str(tiny_run), "--resume", *TINY])
    assert result.exit_code == 0, result.exception
    assert not stale.exists() and json.loads((tiny_run / "report.json").read_text())["training"]["steps"] == 4


@pytest.mark.parametrize("fpr", ["2", "0", "-0.5", "1"])
def test_detect_fit_refuses_a_bad_false_positive_rate_before_any_work(tmp_path, fpr):
    result = runner.invoke(
        app, ["detect", "fit", "--model", "vae", "--data", "digits", "--fpr", fpr, "-o", str(tmp_path / "d")]
    )
    assert result.exit_code == 2 and "--fpr must be in (0, 1)" in result.output
    assert not (tmp_path / "d").exists()


def test_detect_fit_refuses_a_score_the_model_lacks_before_training(tmp_path):
    run_dir = tmp_path / "detector"
    args = ["detect", "fit", "--model", "vae", "--data", "digits", "--score", "bogus", "-o", str(run_dir)]
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and "'bogus' does not apply to vae; it offers nll" in " ".join(result.output.split())
    assert not run_dir.exists()


def test_features_train_refuses_a_directory_that_holds_a_run(tiny_run):
    before = snapshot(tiny_run)
    result = runner.invoke(app, ["features", "train", "--data", "digits", "-o", str(tiny_run), "--overwrite"])
    assert isinstance(result.exception, RunDirectoryExistsError)
    assert snapshot(tiny_run) == before


def test_features_train_re_trains_a_feature_network_only_when_told(tmp_path):
    network = tmp_path / "network"
    train = ["features", "train", "--data", "digits", "--epochs", "1", "-o", str(network)]
    assert runner.invoke(app, train).exit_code == 0
    before = snapshot(network)
    again = runner.invoke(app, train)
    assert isinstance(again.exception, RunDirectoryExistsError) and "pass --overwrite" in str(again.exception)
    assert snapshot(network) == before
    retrained = runner.invoke(app, [*train, "--seed", "1", "--overwrite"])
    assert retrained.exit_code == 0, retrained.exception
    assert json.loads((network / "config.json").read_text())["training"]["seed"] == 1


def test_sample_refuses_a_format_that_contradicts_the_file_and_names_what_it_wrote(tiny_run, tmp_path):
    contradiction = ["sample", str(tiny_run), "-n", "4", "--format", "npy", "-o", str(tmp_path / "x.safetensors")]
    result = runner.invoke(app, contradiction)
    assert result.exit_code == 2 and "contradicts" in result.output
    assert list(tmp_path.iterdir()) == []
    result = runner.invoke(app, ["sample", str(tiny_run), "-n", "4", "-o", str(tmp_path / "x.npy")])
    assert result.exit_code == 0 and f"wrote 4 samples to {tmp_path / 'x.npy'}" in " ".join(result.output.split())
    assert [path.name for path in tmp_path.iterdir()] == ["x.npy"]


# --- one clear line, never a traceback --------------------------------------------------------------------
def test_unwritable_outputs_are_one_line_naming_the_path(tiny_run, tmp_path, monkeypatch, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    code, err = run_main(monkeypatch, capsys, "sample", tiny_run, "-n", "2", "-o", blocker / "x.png")
    assert code == 1 and err.startswith(f"error: cannot write {blocker / 'x.png'}") and len(err.splitlines()) == 1
    code, err = run_main(monkeypatch, capsys, "train", "vae", "--data", "digits", "-o", blocker / "run", *TINY)
    assert code == 1 and err.startswith(f"error: cannot create {blocker / 'run'}") and len(err.splitlines()) == 1
    code, err = run_main(monkeypatch, capsys, "train", "vae", "--data", "digits", "-o", blocker, *TINY)
    assert code == 1 and "is a file, not a directory" in err


def test_a_read_only_directory_is_named(tiny_run, tmp_path, monkeypatch, capsys):
    read_only = tmp_path / "read-only"
    read_only.mkdir(mode=0o555)
    if os.geteuid() == 0:  # modes do not bind root; sysfs refuses new files even to root
        read_only = Path("/sys")
    code, err = run_main(monkeypatch, capsys, "sample", tiny_run, "-n", "2", "-o", read_only / "x.png")
    assert code == 1 and err.strip() == f"error: cannot write {read_only / 'x.png'}: Permission denied"


def test_device_settings_and_a_missing_config_are_one_line(tmp_path, monkeypatch, capsys):
    for option, value, named in (("--devices", "abc", "devices='abc'"), ("--accelerator", "cuda", "'cuda'")):
        code, err = run_main(monkeypatch, capsys, "train", "vae", "--data", "digits", option, value, "-o", tmp_path)
        assert code == 1 and named in err and "Traceback" not in err and len(err.splitlines()) == 1
    assert list(tmp_path.iterdir()) == []
    code, err = run_main(monkeypatch, capsys, "train", "vae", "--data", "digits", "--config", tmp_path / "none.toml")
    assert code == 2 and f"--config {tmp_path / 'none.toml'}: no such file" in err and "Traceback" not in err


def test_unreadable_run_and_detector_files_are_named(tmp_path):
    broken = tmp_path / "run.json"
    broken.write_bytes(b"\x89PNG\r\n")
    with pytest.raises(GenmodelsError, match=f"{broken} is not valid JSON"):
        read_json(broken, "a run's spec")
    result = runner.invoke(app, ["evaluate", str(tmp_path)])
    assert isinstance(result.exception, GenmodelsError) and str(broken) in str(result.exception)


def test_a_binary_file_of_smiles_is_named(tmp_path):
    from genmodels.applications.molecules.datasets import read_smiles_strings

    binary = tmp_path / "molecules.smi"
    binary.write_bytes(bytes(range(128, 256)))
    with pytest.raises(GenmodelsError, match=f"{binary} is not a readable UTF-8 text file"):
        read_smiles_strings(binary)


def test_an_unwritable_atomic_target_is_an_output_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(OutputError, match=f"cannot write {blocker / 'x.json'}"), atomic_path(blocker / "x.json"):
        pass

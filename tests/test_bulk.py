"""Chunked scoring and sampling: the same rows as one pass, bounded by a chunk, continued after a kill."""

import numpy as np
import pandas as pd
import pytest
from serving_runs import save_serving_runs, transactions
from typer.testing import CliRunner

import genmodels
from genmodels.applications import bulk
from genmodels.applications.anomaly import Detector
from genmodels.applications.anomaly.rows import read_rows, scored_rows
from genmodels.cli.main import app
from genmodels.errors import OutputError


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return save_serving_runs(tmp_path_factory.mktemp("runs"))


@pytest.fixture
def detector(runs) -> Detector:
    return Detector.load(genmodels.load(runs["fraud"]), runs["fraud"])


class Killed(Exception):
    pass


def kill_after(monkeypatch, name: str, calls: int) -> None:
    """Make ``bulk.NAME`` raise after ``calls`` calls, as a killed job would stop."""
    original, count = getattr(bulk, name), [0]

    def counted(*args, **kwargs):
        count[0] += 1
        if count[0] > calls:
            raise Killed
        return original(*args, **kwargs)

    monkeypatch.setattr(bulk, name, counted)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_chunked_scores_equal_one_pass_and_a_killed_job_continues(detector, tmp_path, monkeypatch, suffix):
    rows = tmp_path / f"new{suffix}"
    table = transactions(rows=1003, seed=1)
    table.to_csv(rows, index=False) if suffix == ".csv" else table.to_parquet(rows, index=False)
    one_pass = scored_rows(detector, read_rows(detector.model, rows)[0], per_column=True).drop(columns="rank")

    output = tmp_path / f"scores{suffix}"
    kill_after(monkeypatch, "score_chunk", 4)
    with pytest.raises(Killed):
        bulk.score_in_chunks(detector, rows, output, chunk_rows=100)
    assert not output.exists() and len(list(output.with_name(output.name + ".parts").glob("part-*"))) == 4
    monkeypatch.undo()
    assert bulk.score_in_chunks(detector, rows, output, chunk_rows=100) == 1003
    chunked = pd.read_csv(output) if suffix == ".csv" else pd.read_parquet(output)
    assert not output.with_name(output.name + ".parts").exists()
    assert chunked["row"].tolist() == list(range(1003))
    if suffix == ".parquet":
        pd.testing.assert_frame_equal(chunked, one_pass, check_exact=True)
    else:  # CSV holds the float32 per-column values as decimal text
        pd.testing.assert_frame_equal(chunked, one_pass, check_dtype=False, rtol=1e-6)


def test_a_continued_job_refuses_changed_settings_and_an_existing_output(detector, tmp_path, monkeypatch):
    rows = tmp_path / "new.csv"
    transactions(rows=300).to_csv(rows, index=False)
    kill_after(monkeypatch, "score_chunk", 1)
    with pytest.raises(Killed):
        bulk.score_in_chunks(detector, rows, tmp_path / "s.csv", chunk_rows=100)
    monkeypatch.undo()
    with pytest.raises(OutputError, match="chunk_rows"):
        bulk.score_in_chunks(detector, rows, tmp_path / "s.csv", chunk_rows=50)
    (tmp_path / "done.csv").write_text("x\n")
    with pytest.raises(OutputError, match="already exists"):
        bulk.score_in_chunks(detector, rows, tmp_path / "done.csv", chunk_rows=50)


def test_chunked_npy_scores_equal_one_pass(detector, tmp_path):
    array = detector.model.preprocessor.transform(transactions(rows=250, seed=2)).numpy()
    np.save(tmp_path / "rows.npy", array)
    expected = scored_rows(detector, read_rows(detector.model, tmp_path / "rows.npy")[0]).drop(columns="rank")
    bulk.score_in_chunks(detector, tmp_path / "rows.npy", tmp_path / "s.parquet", chunk_rows=64)
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "s.parquet"), expected, check_exact=True)


def test_chunked_table_samples_continue_to_the_uninterrupted_rows(runs, tmp_path, monkeypatch):
    model = genmodels.load(runs["fraud"])
    bulk.sample_table_in_chunks(model, 250, tmp_path / "whole.parquet", chunk_rows=60, seed=3)
    original = model.sample_table
    calls = [0]

    def dying(*args, **kwargs):
        calls[0] += 1
        if calls[0] > 2:
            raise Killed
        return original(*args, **kwargs)

    monkeypatch.setattr(model, "sample_table", dying)
    with pytest.raises(Killed):
        bulk.sample_table_in_chunks(model, 250, tmp_path / "resumed.parquet", chunk_rows=60, seed=3)
    monkeypatch.undo()
    bulk.sample_table_in_chunks(model, 250, tmp_path / "resumed.parquet", chunk_rows=60, seed=3)
    whole, resumed = pd.read_parquet(tmp_path / "whole.parquet"), pd.read_parquet(tmp_path / "resumed.parquet")
    assert len(whole) == 250 and list(whole.columns) == ["amount", "hour", "channel"]
    pd.testing.assert_frame_equal(whole, resumed, check_exact=True)


def test_cli_chunk_rows_for_scoring_sampling_and_molecules(runs, tmp_path):
    pytest.importorskip("rdkit")
    transactions(rows=120).to_csv(tmp_path / "new.csv", index=False)
    runner = CliRunner()
    commands = [
        ["detect", "score", str(runs["fraud"]), str(tmp_path / "new.csv"), "-o", str(tmp_path / "s.csv"),
         "--chunk-rows", "50"],
        ["sample", str(runs["fraud"]), "-n", "70", "-o", str(tmp_path / "t.csv"), "--chunk-rows", "30"],
        ["molecules", "generate", str(runs["smiles"]), "-n", "12", "-o", str(tmp_path / "m.parquet"),
         "--chunk-rows", "5", "--max-length", "20"],
    ]  # fmt: skip
    for command in commands:
        result = runner.invoke(app, command)
        assert result.exit_code == 0, result.output
    assert len(pd.read_csv(tmp_path / "s.csv")) == 120 and len(pd.read_csv(tmp_path / "t.csv")) == 70
    molecules = pd.read_parquet(tmp_path / "m.parquet")
    assert len(molecules) == 12 and {"smiles", "valid"} <= set(molecules.columns)
    result = runner.invoke(app, ["sample", str(runs["digits"]), "-o", str(tmp_path / "x.png"), "--chunk-rows", "5"])
    assert result.exit_code != 0 and "--chunk-rows writes table rows" in result.output

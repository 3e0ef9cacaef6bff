"""Tables: preprocessing fitted on training rows, saved with the model, and refusing bad input by name."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

import genmodels
from genmodels.cli.main import app
from genmodels.data import DataSpec, load_data
from genmodels.data.tabular import TabularPreprocessor, read_table
from genmodels.errors import CheckpointError, DataError


@pytest.fixture
def table() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    return pd.DataFrame(
        {
            "amount": rng.normal(100, 20, 300),
            "age": rng.integers(18, 90, 300),
            "country": rng.choice(["de", "fr", "it"], 300),
            "is_fraud": rng.random(300) < 0.05,
        }
    )


def test_preprocessing_round_trips_and_saves(table, tmp_path):
    features = table.drop(columns="is_fraud")
    preprocessor = TabularPreprocessor.fit(features)
    assert preprocessor.categorical_columns == ["country"] and preprocessor.width == 2 + 3
    encoded = preprocessor.transform(features)
    assert torch.allclose(encoded[:, :2].mean(0), torch.zeros(2), atol=1e-5)
    assert encoded[:, 2:].sum(1).eq(1).all()
    restored = preprocessor.inverse_transform(encoded)
    assert np.allclose(restored["amount"], features["amount"]) and np.allclose(restored["age"], features["age"])
    assert (restored["country"] == features["country"]).all()
    preprocessor.save(tmp_path)
    assert torch.equal(TabularPreprocessor.load(tmp_path).transform(features), encoded)


def test_bad_tables_are_refused_by_name(table):
    features = table.drop(columns="is_fraud")
    preprocessor = TabularPreprocessor.fit(features)
    with pytest.raises(DataError, match=r"lacks column\(s\) \['country'\]"):
        preprocessor.transform(features.drop(columns="country"))
    with_nan = features.copy()
    with_nan.loc[3, "amount"] = np.nan
    with pytest.raises(DataError, match=r"missing values \(NaN\) in column\(s\) \{'amount': 1\}, e.g. rows \[3\]"):
        preprocessor.transform(with_nan)
    unseen = features.copy()
    unseen.loc[0, "country"] = "xx"
    with pytest.raises(DataError, match="column 'country' has categories never seen in training: \\['xx'\\]"):
        preprocessor.transform(unseen)
    lenient = TabularPreprocessor.fit(features, unknown_categories="zeros")
    assert lenient.transform(unseen)[0, 2:].sum() == 0
    with pytest.raises(DataError, match="not numeric"):
        TabularPreprocessor.fit(features, categorical_columns=[]).transform(features)


def test_unreadable_files_get_clear_errors(tmp_path):
    (tmp_path / "empty.csv").write_text("a,b\n", encoding="utf-8")
    with pytest.raises(DataError, match="has no rows"):
        read_table(tmp_path / "empty.csv")
    with pytest.raises(DataError, match="does not exist"):
        read_table(tmp_path / "missing.csv")
    if importlib.util.find_spec("pyarrow") is None:
        (tmp_path / "t.parquet").write_bytes(b"PAR1")
        with pytest.raises(DataError, match="pyarrow"):
            read_table(tmp_path / "t.parquet")


def test_a_csv_loads_as_splits_with_labels_apart_and_statistics_from_training_rows(table, tmp_path):
    table.to_csv(tmp_path / "t.csv", index=False)
    data = load_data(DataSpec(str(tmp_path / "t.csv"), label_column="is_fraud"))
    assert data.info["sizes"] == {"train": 240, "validation": 30, "test": 30}
    assert data.data_shape == (5,) and data.info["class_names"] == ["False", "True"]
    assert torch.allclose(data.train.images[:, 0].mean(), torch.tensor(0.0), atol=1e-5)  # scaled on train rows
    assert not torch.allclose(data.test.images[:, 0].mean(), torch.tensor(0.0), atol=1e-5)


@pytest.mark.parametrize("model_name", ["tabular-vae", "tabular-made"])
def test_table_models_train_and_save_their_preprocessor(table, tmp_path, model_name):
    table.to_csv(tmp_path / "t.csv", index=False)
    run = tmp_path / "run"
    result = CliRunner().invoke(
        app,
        [
            "train",
            model_name,
            "--data",
            str(tmp_path / "t.csv"),
            "-o",
            str(run),
            "--set",
            "data.label_column=is_fraud",
            "--max-steps",
            "150",
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    history = pd.read_csv(run / "history.csv")
    training = history[history["split"] == "train"]["loss"].to_numpy()
    assert training[-1] < training[0]  # the columns are independent noise: little to learn
    model = genmodels.load(run)
    assert model.preprocessor.categorical_columns == ["country"]
    samples = pd.read_csv(run / "samples.csv")
    assert list(samples.columns) == ["amount", "age", "country"] and set(samples["country"]) <= {"de", "fr", "it"}
    config = json.loads((run / "model" / "config.json").read_text())
    assert config["config"]["numeric_features"] == 2 and config["config"]["categorical_sizes"] == [3]
    (run / "model" / "preprocessor.json").write_text(
        TabularPreprocessor.fit(table[["amount", "age"]]).to_json(), encoding="utf-8"
    )
    with pytest.raises(CheckpointError, match="preprocessor.json"):
        genmodels.load(run)
    result = CliRunner().invoke(app, ["train", "vae", "--data", str(tmp_path / "t.csv"), "--max-steps", "1"])
    assert result.exit_code != 0 and "tabular-vae" in str(result.exception)


def test_decoded_numbers_keep_the_decimal_places_they_were_recorded_with():
    rng = np.random.default_rng(0)
    mostly_whole = rng.integers(2, 8, 1000).astype(float)
    mostly_whole[:200] += rng.integers(1, 100, 200) / 100  # a fifth recorded to two places
    frame = pd.DataFrame(
        {"ratio": mostly_whole, "bmi": np.round(rng.normal(25, 4, 1000), 1), "x": rng.normal(size=1000)}
    )
    preprocessor = TabularPreprocessor.fit(frame)
    assert preprocessor.precision["bmi"] == pytest.approx([0, 1, 0, 0, 0, 0, 0], abs=0.03)  # x.0 is one place
    assert preprocessor.precision["ratio"] == pytest.approx([0.8, 0, 0.2, 0, 0, 0, 0], abs=0.02)
    assert "x" not in preprocessor.precision  # full float precision: decoded unrounded

    encoded = preprocessor.transform(frame).repeat(4, 1) + 0.1 * torch.randn(4000, 3)  # like rows a model draws
    decoded = preprocessor.inverse_transform(encoded, torch.Generator().manual_seed(0))
    assert np.all(decoded["bmi"] == np.round(decoded["bmi"], 1))
    assert np.mean(decoded["bmi"] == np.round(decoded["bmi"])) == pytest.approx(0.1, abs=0.03)
    whole_share = np.mean(decoded["ratio"] == np.round(decoded["ratio"]))
    assert whole_share == pytest.approx(0.8, abs=0.03)  # binomial sd 0.006
    assert np.all(decoded["ratio"] == np.round(decoded["ratio"], 2))
    assert np.mean(decoded["x"] == np.round(decoded["x"], 6)) < 0.01  # only the values clipped to a bound
    again = preprocessor.inverse_transform(encoded, torch.Generator().manual_seed(0))
    pd.testing.assert_frame_equal(decoded, again)


def test_a_preprocessor_saved_without_precision_decodes_unrounded(tmp_path):
    frame = pd.DataFrame({"bmi": np.round(np.random.default_rng(0).normal(25, 4, 100), 1)})
    saved = json.loads(TabularPreprocessor.fit(frame).to_json())
    del saved["precision"]
    (tmp_path / "preprocessor.json").write_text(json.dumps(saved))
    decoded = TabularPreprocessor.load(tmp_path).inverse_transform(torch.randn(50, 1))
    assert not np.all(decoded["bmi"] == np.round(decoded["bmi"], 1))

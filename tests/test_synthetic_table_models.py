"""Table models as synthetic-table generators: types, categories, ranges, missing values and conditions kept."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

import genmodels
from genmodels.cli.main import app
from genmodels.data.tabular import MISSING_CATEGORY, TabularPreprocessor, read_table
from genmodels.errors import DataError
from genmodels.models.registry import build_model


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    rows = 400
    age = rng.integers(18, 70, rows)
    plan = np.where(age > 40, "gold", rng.choice(["basic", "silver"], rows))
    spend = np.round(20 + 2.5 * age + rng.normal(0, 10, rows), 2)
    frame = pd.DataFrame(
        {
            "age": age,
            "plan": plan,
            "spend": spend,
            "active": rng.random(rows) < 0.7,
            "signup": (pd.Timestamp("2021-01-01") + pd.to_timedelta(rng.integers(0, 365, rows), unit="D")).strftime(
                "%Y-%m-%d"
            ),
            "country": "de",
        }
    )
    frame.loc[rng.random(rows) < 0.2, "spend"] = np.nan
    frame.loc[rng.random(rows) < 0.1, "plan"] = np.nan
    return frame


@pytest.fixture(scope="module")
def flow(table) -> genmodels.GenerativeModel:
    """tabular-flow fitted briefly to the table."""
    preprocessor = TabularPreprocessor.fit(table, missing_values="indicator")
    torch.manual_seed(0)
    model = build_model(
        "tabular-flow",
        data_shape=[preprocessor.width],
        **preprocessor.model_settings(),
        hidden_features=[32, 32],
        transforms=2,
    )
    model.preprocessor = preprocessor
    rows = preprocessor.transform(table)
    optimizer = torch.optim.Adam(model.parameters(), lr=5e-3)
    for _ in range(250):
        loss = model.loss({"x": rows[torch.randint(0, len(rows), (128,))]})["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


def test_sampled_tables_keep_names_dtypes_categories_ranges_and_missing_rates(table, flow):
    synthetic = flow.sample_table(2000, torch.Generator().manual_seed(0))
    assert list(synthetic.columns) == list(table.columns)
    assert synthetic["age"].dtype == np.int64 and synthetic["active"].dtype == bool
    assert pd.api.types.is_datetime64_any_dtype(synthetic["signup"])
    assert synthetic["age"].between(table["age"].min(), table["age"].max()).all()
    assert synthetic["spend"].dropna().between(table["spend"].min(), table["spend"].max()).all()
    assert set(synthetic["plan"].dropna()) <= {"basic", "silver", "gold"}
    assert MISSING_CATEGORY not in set(synthetic["plan"])
    assert (synthetic["country"] == "de").all()  # a constant column is reproduced exactly
    assert synthetic["spend"].isna().mean() == pytest.approx(table["spend"].isna().mean(), abs=0.06)
    assert synthetic["plan"].isna().mean() == pytest.approx(table["plan"].isna().mean(), abs=0.06)
    assert synthetic["active"].mean() == pytest.approx(0.7, abs=0.1)
    signup = pd.to_datetime(table["signup"])
    assert synthetic["signup"].between(signup.min(), signup.max()).all()
    spend = synthetic["spend"].dropna()
    assert (spend == spend.round(2)).all() and (spend != spend.round(1)).mean() > 0.5  # cents, as recorded
    pd.testing.assert_frame_equal(synthetic, flow.sample_table(2000, torch.Generator().manual_seed(0)))


def test_conditional_sampling_honours_every_condition(flow):
    golden = flow.sample_table(200, torch.Generator().manual_seed(1), conditions={"plan": "gold"})
    assert len(golden) == 200 and (golden["plan"] == "gold").all()
    assert golden["age"].mean() > 40  # gold members are the older ones in the real table
    aged = flow.sample_table(50, torch.Generator().manual_seed(2), conditions={"age": 30, "active": True})
    assert (aged["age"] == 30).all() and aged["active"].all()
    priced = flow.sample_table(20, torch.Generator().manual_seed(3), conditions={"spend": 95.25})
    assert (priced["spend"] == 95.25).all()  # not rounded away by the column's drawn decimal places
    with pytest.raises(DataError, match="condition on 'income': the table has no such column"):
        flow.sample_table(5, conditions={"income": 3})
    with pytest.raises(DataError, match="condition plan='platinum' is not a category"):
        flow.sample_table(5, conditions={"plan": "platinum"})
    with pytest.raises(DataError, match=r"condition age=150 lies outside the training range \[18, 69\]"):
        flow.sample_table(5, conditions={"age": 150})


@pytest.mark.parametrize("model_name", ["tabular-vae", "tabular-made"])
def test_every_table_model_samples_tables_the_same_way(table, model_name):
    preprocessor = TabularPreprocessor.fit(table, missing_values="indicator")
    model = build_model(model_name, data_shape=[preprocessor.width], **preprocessor.model_settings())
    model.preprocessor = preprocessor
    synthetic = model.sample_table(300, torch.Generator().manual_seed(0), conditions={"plan": "basic"})
    assert list(synthetic.columns) == list(table.columns) and (synthetic["plan"] == "basic").all()
    assert synthetic["age"].dtype == np.int64 and synthetic["age"].between(18, 69).all()


def test_bad_tables_get_clear_errors_or_documented_handling(table, tmp_path):
    with pytest.raises(DataError, match=r"column\(s\) \['empty'\] have no values \(all NaN\)"):
        TabularPreprocessor.fit(table.assign(empty=np.nan), missing_values="indicator")
    with pytest.raises(DataError, match=r"missing values \(NaN\) in column\(s\)"):
        TabularPreprocessor.fit(table)  # missing values are refused unless modelled
    (tmp_path / "empty.csv").write_text("a,b\n", encoding="utf-8")
    with pytest.raises(DataError, match="has no rows"):
        read_table(tmp_path / "empty.csv")
    one_valued = TabularPreprocessor.fit(table[["age", "country"]].assign(zero=0))
    assert one_valued.categorical_columns == ["country", "zero"] and one_valued.categories["zero"] == ["0"]
    decoded = one_valued.inverse_transform(one_valued.transform(table[["age", "country"]].assign(zero=0)))
    assert (decoded["zero"] == 0).all() and decoded["zero"].dtype == np.int64


def test_cli_trains_samples_and_evaluates_a_synthetic_table(table, tmp_path):
    table.to_csv(tmp_path / "table.csv", index=False)
    run, runner = tmp_path / "run", CliRunner()
    trained = runner.invoke(
        app,
        ["train", "tabular-flow", "--data", str(tmp_path / "table.csv"), "-o", str(run), "--max-steps", "40"]
        + ["--set", "model.hidden_features=[16]", "--set", "model.transforms=1", "--no-progress"],
    )
    assert trained.exit_code == 0, trained.output
    sampled = runner.invoke(app, ["sample", str(run), "-n", "300", "-o", str(tmp_path / "synthetic.csv")])
    assert sampled.exit_code == 0, sampled.output
    synthetic = pd.read_csv(tmp_path / "synthetic.csv")
    assert len(synthetic) == 300 and list(synthetic.columns) == list(table.columns)
    conditioned = runner.invoke(
        app, ["sample", str(run), "-n", "20", "-o", str(tmp_path / "gold.csv"), "--condition", "plan=gold"]
    )
    assert conditioned.exit_code == 0, conditioned.output
    assert (pd.read_csv(tmp_path / "gold.csv")["plan"] == "gold").all()
    evaluated = runner.invoke(
        app, ["evaluate", str(run), "--metrics", "shapes,pairs,detection,efficacy,privacy", "--target", "spend"]
    )
    assert evaluated.exit_code == 0, evaluated.output
    report = json.loads((run / "evaluation-tables-test.json").read_text())
    assert 0 <= report["quality"]["overall"] <= 1 and 0.5 <= report["detection_auc"] <= 1
    assert report["efficacy"]["metric"] == "r2" and "passes" in report["privacy"]
    assert (run / "marginals.png").is_file() and (run / "correlations.png").is_file()
    compared = runner.invoke(
        app,
        ["tables", "compare", str(tmp_path / "table.csv"), str(tmp_path / "synthetic.csv")]
        + ["-o", str(tmp_path / "cmp" / "report.json")],
    )
    assert compared.exit_code == 0, compared.output
    assert "detection_auc" in json.loads((tmp_path / "cmp" / "report.json").read_text())
    refused = runner.invoke(app, ["evaluate", str(run), "--metrics", "shapes,beauty"])
    assert refused.exit_code != 0 and "unknown table metric(s) beauty" in refused.output

"""Synthetic-table metrics: SDMetrics' definitions, identical tables, broken pairs, copies and detection."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from genmodels.errors import DataError
from genmodels.evaluation.synthetic_tables import (
    column_pair_trends,
    compare_tables,
    detection_auc,
    ml_efficacy,
    privacy,
    quality,
)


def make_table(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 80, rows)
    income = 20000 + 800 * age + rng.normal(0, 8000, rows)
    region = rng.choice(["north", "south", "east"], rows, p=[0.5, 0.3, 0.2])
    owner = (income > np.median(income)) | (region == "north")
    return pd.DataFrame(
        {
            "age": age,
            "income": income,
            "region": region,
            "owner": owner,
            "joined": pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 900, rows), unit="D"),
        }
    )


@pytest.fixture(scope="module")
def real() -> pd.DataFrame:
    return make_table(400, 0)


@pytest.fixture(scope="module")
def other() -> pd.DataFrame:
    return make_table(400, 1)


def test_shapes_and_pairs_agree_with_sdmetrics(real, other):
    sdmetrics = pytest.importorskip("sdmetrics")
    from sdmetrics.reports.single_table import QualityReport

    synthetic = other.copy()
    synthetic["income"] = synthetic["income"].sample(frac=1, random_state=0).to_numpy()  # weaken one trend
    synthetic.loc[::7, "region"] = "south"
    metadata = {
        "columns": {
            "age": {"sdtype": "numerical"},
            "income": {"sdtype": "numerical"},
            "region": {"sdtype": "categorical"},
            "owner": {"sdtype": "boolean"},
            "joined": {"sdtype": "datetime", "datetime_format": "%Y-%m-%d"},
        }
    }
    report = QualityReport()
    report.generate(real, synthetic, metadata, verbose=False)
    ours = quality(real, synthetic)
    shapes = report.get_details("Column Shapes").set_index("Column")["Score"]
    for name, score in ours["columns"].items():
        assert score == pytest.approx(shapes[name], abs=1e-9), name
    pairs = report.get_details("Column Pair Trends")
    theirs = {f"{row['Column 1']} | {row['Column 2']}": row["Score"] for _, row in pairs.iterrows()}
    assert set(ours["pairs"]) == {key for key, value in theirs.items() if not np.isnan(value)}
    for key, score in ours["pairs"].items():
        assert score == pytest.approx(theirs[key], abs=1e-9), key
    assert ours["overall"] == pytest.approx(report.get_score(), abs=1e-9)
    assert sdmetrics.__version__


def test_identical_tables_score_one_and_cannot_be_told_apart(real):
    scores = quality(real, real.copy())
    assert scores["column_shapes"] == 1.0 and scores["column_pair_trends"] == pytest.approx(1.0)
    assert detection_auc(real, real.copy()) == 0.5
    assert detection_auc(real, make_table(400, 1)) < 0.65


def test_shuffled_columns_lose_pair_trends_but_keep_shapes(real):
    rng = np.random.default_rng(0)
    shuffled = real.apply(lambda column: column.sample(frac=1, random_state=int(rng.integers(1e6))).to_numpy())
    scores = quality(real, shuffled)
    assert scores["column_shapes"] == 1.0
    assert column_pair_trends(real, shuffled)["age | income"] < 0.9
    assert scores["column_pair_trends"] < quality(real, real)["column_pair_trends"] - 0.05
    assert detection_auc(real, shuffled) > 0.7


def test_a_copied_training_set_is_flagged_and_a_fresh_sample_is_not(real, other):
    holdout = make_table(200, 2)
    copied = privacy(real, holdout, real.copy())
    assert copied["exact_copy_share"] == 1.0 and copied["dcr_synthetic"]["q50"] == 0.0 and not copied["passes"]
    assert copied["nearest_is_training_share"] == 1.0 and copied["p_value"] < 0.001
    fresh = privacy(real, holdout, other)
    assert fresh["exact_copy_share"] == 0.0 and fresh["passes"]
    assert fresh["nearest_is_training_chance"] == pytest.approx(400 / 600)
    assert fresh["nearest_is_training_share"] == pytest.approx(400 / 600, abs=0.08)


def test_near_copies_are_flagged_though_none_is_exact(real):
    """Training rows with a little noise on one column copy nobody exactly, yet sit nearer the training rows
    than held-out rows do: the permutation test flags them."""
    holdout = make_table(200, 2)
    noisy = real.assign(income=real["income"] + np.random.default_rng(3).normal(0, 500, len(real)))
    result = privacy(real, holdout, noisy)
    assert result["exact_copy_share"] == 0.0
    assert result["nearest_is_training_share"] > 0.9 and result["p_value"] < 0.001 and not result["passes"]


def test_the_privacy_test_rejects_faithful_samples_about_as_often_as_its_level():
    """Under the null (synthetic rows drawn like the real ones, independently) p < 0.05 about 5% of the time."""
    train, holdout = make_table(300, 10), make_table(100, 11)
    p_values = [privacy(train, holdout, make_table(300, 100 + draw), seed=draw)["p_value"] for draw in range(40)]
    assert np.mean(np.array(p_values) < 0.05) <= 0.15
    assert 0.3 <= np.mean(p_values) <= 0.7  # p-values spread over (0, 1], not piled at either end


def test_rows_equally_near_a_training_and_a_held_out_row_do_not_count_for_training():
    """In a table of few distinct rows every synthetic row ties with many real ones; a faithful draw must still
    find training rows about as often as chance, not every time because training rows come first."""
    rng = np.random.default_rng(0)

    def draw(rows: int) -> pd.DataFrame:
        return pd.DataFrame({"smoker": rng.choice(["yes", "no"], rows), "children": rng.integers(0, 3, rows)})

    result = privacy(draw(300), draw(100), draw(300))
    assert result["nearest_is_training_share"] == pytest.approx(0.75, abs=0.06) and result["passes"]


def test_efficacy_trains_on_synthetic_and_tests_on_real(real, other):
    holdout = make_table(200, 2)
    result = ml_efficacy(real, holdout, other, target="owner")
    assert result["task"] == "classification" and result["metric"] == "macro_f1"
    assert result["train_real"] > 0.8 and result["train_synthetic"] > 0.8
    noise = other.assign(owner=np.random.default_rng(3).random(len(other)) < 0.5)
    assert ml_efficacy(real, holdout, noise, target="owner")["train_synthetic"] < result["train_synthetic"] - 0.2
    assert ml_efficacy(real, holdout, other, target="income")["metric"] == "r2"


def test_bad_comparisons_name_the_problem(real):
    with pytest.raises(DataError, match=r"lacks column\(s\) \['region'\]"):
        quality(real, real.drop(columns="region"))
    with pytest.raises(DataError, match="need real held-out rows"):
        compare_tables(real, real, metrics=["privacy"])
    with pytest.raises(DataError, match="unknown table metric"):
        compare_tables(real, real, metrics=["beauty"])
    with pytest.raises(DataError, match="efficacy target 'salary'"):
        ml_efficacy(real, real, real, target="salary")

"""Judging a synthetic table against the real one: fidelity, detectability, usefulness and privacy.

- Column shapes and column-pair trends follow SDMetrics' quality report (DataCebo): the
  Kolmogorov-Smirnov complement for numbers and datetimes, the total-variation complement for
  categories; correlation similarity (Pearson) for two numeric columns, contingency similarity for
  the rest, numbers cut into 10 equal-width bins (each table on its own range, as the report does).
  The overall quality is the mean of the two.
- Detection: cross-validated ROC AUC of a gradient-boosted classifier telling real from synthetic
  rows; 0.5 means it cannot, 1.0 that every row gives itself away.
- Machine-learning efficacy: a model trained on synthetic rows, tested on real held-out rows,
  beside the same model trained on the real training rows (Xu et al., 2019).
- Privacy: each synthetic row's distance to the closest real training record (DCR) beside real
  held-out rows' DCR to the same records, the share of synthetic rows that copy a training row, and
  a permutation test of whether synthetic rows lie nearer the training rows than the held-out rows
  (in the spirit of SDMetrics' DCR overfitting protection, which counts synthetic rows closer to
  training than to held-out rows, but exact for training and held-out sets of any sizes).
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import ks_2samp, pearsonr
from scipy.stats.contingency import association

from genmodels.data.tabular import TabularPreprocessor, column_kinds, datetimes_as_seconds
from genmodels.errors import DataError

METRICS = ("shapes", "pairs", "detection", "efficacy", "privacy")
DISCRETE_BINS = 10
REAL_CORRELATION_THRESHOLD = 0.5
"""SDMetrics' default: a pair of numeric columns counts when the real data's |Pearson r| exceeds it."""
REAL_ASSOCIATION_THRESHOLD = 0.3
"""SDMetrics' default: any other pair counts when the real data's Cramer's V exceeds it."""
DCR_QUANTILES = (0.05, 0.25, 0.5)
PERMUTATIONS = 2000
PRIVACY_SIGNIFICANCE = 0.05
"""The privacy check fails when the permutation test's p-value falls below this."""


def check_comparable(real: pd.DataFrame, synthetic: pd.DataFrame) -> None:
    """Refuse tables that cannot be compared column by column, naming the columns."""
    if real.empty or synthetic.empty:
        raise DataError(f"both tables need rows: real has {len(real)}, synthetic {len(synthetic)}")
    missing = [name for name in real.columns if name not in synthetic.columns]
    if missing:
        raise DataError(f"the synthetic table lacks column(s) {missing}; the real one has {list(real.columns)}")


def _numeric(column: pd.Series, kind: str) -> pd.Series:
    return datetimes_as_seconds(column) if kind == "datetime" else pd.to_numeric(column, errors="coerce")


def column_shapes(
    real: pd.DataFrame, synthetic: pd.DataFrame, kinds: Mapping[str, str] | None = None
) -> dict[str, float]:
    """Per column: 1 - KS statistic (numbers, datetimes) or 1 - total variation distance (categories), NaNs dropped."""
    check_comparable(real, synthetic)
    kinds = dict(kinds or column_kinds(real))
    scores = {}
    for name in real.columns:
        if kinds[name] == "categorical":
            real_share = real[name].dropna().astype(str).value_counts(normalize=True)
            synthetic_share = synthetic[name].dropna().astype(str).value_counts(normalize=True)
            if real_share.empty or synthetic_share.empty:
                continue
            union = real_share.index.union(synthetic_share.index)
            distance = (real_share.reindex(union, fill_value=0) - synthetic_share.reindex(union, fill_value=0)).abs()
            scores[name] = float(1 - 0.5 * distance.sum())
        else:
            real_values = _numeric(real[name], kinds[name]).dropna()
            synthetic_values = _numeric(synthetic[name], kinds[name]).dropna()
            if real_values.empty or synthetic_values.empty:
                continue
            scores[name] = float(1 - ks_2samp(real_values, synthetic_values).statistic)
    return scores


def _binned(column: pd.Series) -> pd.Series:
    """Numbers as the index of their equal-width bin over the column's own range (as SDMetrics' report)."""
    edges = np.histogram_bin_edges(column.dropna(), bins=DISCRETE_BINS)
    return pd.Series(np.digitize(column, bins=edges), index=column.index)


def _contingency_similarity(real: pd.DataFrame, synthetic: pd.DataFrame) -> float:
    """1 - total variation distance between the two columns' joint frequency tables (NaN a value of its own)."""
    columns = list(real.columns)
    real_share = real.groupby(columns, dropna=False).size() / len(real)
    synthetic_share = synthetic.groupby(columns, dropna=False).size() / len(synthetic)
    union = real_share.index.union(synthetic_share.index, sort=False).drop_duplicates()
    distance = (real_share.reindex(union, fill_value=0) - synthetic_share.reindex(union, fill_value=0)).abs()
    return float(1 - distance.fillna(0).sum() / 2)


def column_pair_trends(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    kinds: Mapping[str, str] | None = None,
    correlation_threshold: float = REAL_CORRELATION_THRESHOLD,
    association_threshold: float = REAL_ASSOCIATION_THRESHOLD,
) -> dict[str, float]:
    """Per pair of columns ("a | b"): correlation similarity 1 - |r_real - r_synthetic| / 2 for two numeric
    columns, contingency similarity otherwise. As in SDMetrics' quality report, only pairs related in the
    real data count (|r| above ``correlation_threshold``, Cramer's V above ``association_threshold``)."""
    check_comparable(real, synthetic)
    kinds = dict(kinds or column_kinds(real))
    continuous = [name for name in real.columns if kinds[name] != "categorical"]

    def prepared(frame: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
        numbers = frame[list(real.columns)].copy()
        for name in continuous:
            numbers[name] = _numeric(frame[name], kinds[name])
        binned = pd.DataFrame({name: _binned(numbers[name]) for name in continuous}, index=frame.index)
        return numbers, binned

    real_numbers, real_bins = prepared(real)
    synthetic_numbers, synthetic_bins = prepared(synthetic)
    scores = {}
    for first, second in itertools.combinations(real.columns, 2):
        if first in continuous and second in continuous:
            pair_real = real_numbers[[first, second]].dropna()
            pair_synthetic = synthetic_numbers[[first, second]].dropna()
            if len(pair_real) < 2 or len(pair_synthetic) < 2:
                continue
            with np.errstate(all="ignore"):
                correlations = [_pearson(pair_real), _pearson(pair_synthetic)]
            if np.isnan(correlations).any() or abs(correlations[0]) <= correlation_threshold:
                continue
            scores[f"{first} | {second}"] = float(1 - abs(correlations[0] - correlations[1]) / 2)
        else:
            pair_real = pd.concat(
                [_as_discrete(name, real_numbers, real_bins, continuous) for name in (first, second)], axis=1
            )
            pair_synthetic = pd.concat(
                [_as_discrete(name, synthetic_numbers, synthetic_bins, continuous) for name in (first, second)], axis=1
            )
            if _cramers_v(pair_real) > association_threshold:
                scores[f"{first} | {second}"] = _contingency_similarity(pair_real, pair_synthetic)
    return scores


def _cramers_v(pair: pd.DataFrame) -> float:
    """Cramer's V of two discrete columns (NaN a value of its own); 0 when a column has one value."""
    table = pair.groupby(list(pair.columns), dropna=False).size().unstack(fill_value=0)
    if table.to_numpy().sum() == 0 or min(table.shape) < 2:
        return 0.0
    return float(association(table.to_numpy(), method="cramer"))


def _pearson(pair: pd.DataFrame) -> float:
    columns = pair.to_numpy(np.float64).T
    if np.ptp(columns[0]) == 0 or np.ptp(columns[1]) == 0:
        return float("nan")
    return float(pearsonr(columns[0], columns[1]).statistic)


def _as_discrete(name: str, numbers: pd.DataFrame, bins: pd.DataFrame, continuous: Sequence[str]) -> pd.Series:
    return bins[name] if name in continuous else numbers[name]


def quality(real: pd.DataFrame, synthetic: pd.DataFrame, kinds: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Column shapes, column-pair trends and their mean, the overall quality score (each in [0, 1])."""
    shapes = column_shapes(real, synthetic, kinds)
    pairs = column_pair_trends(real, synthetic, kinds)
    shape_score = float(np.mean(list(shapes.values()))) if shapes else float("nan")
    pair_score = float(np.mean(list(pairs.values()))) if pairs else float("nan")
    return {
        "column_shapes": shape_score,
        "column_pair_trends": pair_score,
        "overall": float(np.nanmean([shape_score, pair_score])),
        "columns": shapes,
        "pairs": pairs,
    }


def encode_for_comparison(reference: pd.DataFrame, *frames: pd.DataFrame) -> list[np.ndarray]:
    """Tables as numbers on the reference's scale: standardised numbers (missing ones at the mean, with a
    missing flag), one-hot categories (unseen ones all zero)."""
    preprocessor = TabularPreprocessor.fit(reference, missing_values="indicator", unknown_categories="zeros")
    encoded = []
    for frame in frames:
        frame = frame[list(reference.columns)].copy()
        for position, name in enumerate(preprocessor.numeric_columns):
            if name in preprocessor.missing_indicators or not frame[name].isna().any():
                continue
            mean = preprocessor.means[position]
            frame[name] = frame[name].fillna(
                pd.Timestamp(mean, unit="s") if name in preprocessor.datetime_columns else mean
            )
        encoded.append(preprocessor.transform(frame).numpy().astype(np.float64))
    return encoded


def detection_auc(real: pd.DataFrame, synthetic: pd.DataFrame, folds: int = 5, seed: int = 0) -> float:
    """Cross-validated ROC AUC of a classifier telling real rows from as many synthetic ones (0.5: it cannot).

    An AUC below 0.5 is reported as 0.5, as SDMetrics' detection metrics do: it comes from synthetic rows
    that duplicate real ones (each copy in training teaches the wrong label for its twin in testing),
    which the privacy check reports as exact copies.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    check_comparable(real, synthetic)
    rows = min(len(real), len(synthetic))
    if rows < folds:
        raise DataError(f"detection needs at least {folds} rows in each table, got {rows}")
    real = real.sample(rows, random_state=seed)
    synthetic = synthetic.sample(rows, random_state=seed)
    real_encoded, synthetic_encoded = encode_for_comparison(real, real, synthetic)
    features = np.concatenate([real_encoded, synthetic_encoded])
    is_synthetic = np.repeat([0, 1], rows)
    classifier = HistGradientBoostingClassifier(random_state=seed)
    splits = StratifiedKFold(folds, shuffle=True, random_state=seed)
    auc = cross_val_score(classifier, features, is_synthetic, cv=splits, scoring="roc_auc").mean()
    return float(max(auc, 0.5))


def ml_efficacy(
    real_train: pd.DataFrame, real_test: pd.DataFrame, synthetic: pd.DataFrame, target: str, seed: int = 0
) -> dict[str, Any]:
    """Train on synthetic, test on real held-out rows, beside train on real: macro F1 for a categorical target,
    R^2 for a numeric one (gradient-boosted trees, default settings)."""
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor
    from sklearn.metrics import f1_score, r2_score

    for name, frame in (("real training", real_train), ("real held-out", real_test), ("synthetic", synthetic)):
        if target not in frame.columns:
            raise DataError(f"the efficacy target {target!r} is not a column of the {name} table")
    classification = column_kinds(real_train[[target]])[target] == "categorical"
    features = [name for name in real_train.columns if name != target]
    if not features:
        raise DataError(f"efficacy needs at least one column besides the target {target!r}")
    real_train, real_test, synthetic = (frame.dropna(subset=[target]) for frame in (real_train, real_test, synthetic))
    encoded = encode_for_comparison(
        real_train[features], real_train[features], synthetic[features], real_test[features]
    )

    def score(train_x: np.ndarray, train_y: pd.Series) -> float:
        if classification:
            labels = train_y.astype(str)
            if labels.nunique() < 2:
                return 0.0
            model = HistGradientBoostingClassifier(random_state=seed).fit(train_x, labels)
            return float(f1_score(real_test[target].astype(str), model.predict(encoded[2]), average="macro"))
        model = HistGradientBoostingRegressor(random_state=seed).fit(train_x, pd.to_numeric(train_y))
        return float(r2_score(pd.to_numeric(real_test[target]), model.predict(encoded[2])))

    on_real, on_synthetic = score(encoded[0], real_train[target]), score(encoded[1], synthetic[target])
    return {
        "target": target,
        "task": "classification" if classification else "regression",
        "metric": "macro_f1" if classification else "r2",
        "train_real": on_real,
        "train_synthetic": on_synthetic,
    }


def privacy(
    real_train: pd.DataFrame, real_holdout: pd.DataFrame, synthetic: pd.DataFrame, seed: int = 0
) -> dict[str, Any]:
    """Distances to the closest training record (Euclidean, on the training table's standardised encoding) of
    synthetic rows and of real held-out rows, the shares of rows that copy a training row exactly, and a
    test of whether synthetic rows sit nearer the training rows than unseen real rows do.

    The test: find each synthetic row's nearest row among the training and held-out rows together, and
    count how often it is a training row (a real row that appears several times in the pool shares its
    count among its copies). A generator that never saw the training rows finds them as
    often as their share of the pool; one that memorised them, more often. The p-value is the share of
    :data:`PERMUTATIONS` random relabellings of the pool (same sizes) that give at least the observed
    count. ``passes`` when that p-value is at least :data:`PRIVACY_SIGNIFICANCE` and synthetic rows copy
    training rows no more often than held-out rows do. Quantiles of a few dozen held-out distances vary by
    10-20% between draws, so they are reported beside the test, not judged alone.
    """
    from sklearn.neighbors import NearestNeighbors

    check_comparable(real_train, synthetic)
    check_comparable(real_train, real_holdout)
    train, holdout, generated = encode_for_comparison(real_train, real_train, real_holdout, synthetic)
    neighbours = NearestNeighbors(n_neighbors=1).fit(train)
    distances = {
        name: neighbours.kneighbors(rows)[0][:, 0] for name, rows in (("synthetic", generated), ("holdout", holdout))
    }
    training_rows = set(_row_keys(real_train))
    copies = {
        "synthetic": float(np.mean([key in training_rows for key in _row_keys(synthetic[list(real_train.columns)])])),
        "holdout": float(np.mean([key in training_rows for key in _row_keys(real_holdout[list(real_train.columns)])])),
    }
    quantiles = {
        name: {f"q{round(q * 100):02d}": float(np.quantile(values, q)) for q in DCR_QUANTILES}
        for name, values in distances.items()
    }
    nearer = nearest_real_row_test(train, holdout, generated, seed)
    return {
        "dcr_synthetic": quantiles["synthetic"],
        "dcr_holdout": quantiles["holdout"],
        "exact_copy_share": copies["synthetic"],
        "holdout_exact_copy_share": copies["holdout"],
        **nearer,
        "passes": bool(nearer["p_value"] >= PRIVACY_SIGNIFICANCE and copies["synthetic"] <= copies["holdout"]),
    }


def nearest_real_row_test(train: np.ndarray, holdout: np.ndarray, generated: np.ndarray, seed: int) -> dict[str, float]:
    """How often a synthetic row's nearest real row is a training row, what chance gives, and the permutation
    p-value of seeing that often or more (see :func:`privacy`)."""
    from sklearn.neighbors import NearestNeighbors

    pool = np.concatenate([train, holdout])
    rng = np.random.default_rng(seed)
    # Tables of few distinct values repeat rows; a synthetic row nearest such a row is nearest all its copies
    # equally, so its count is shared among them, not given to whichever copy the search meets first.
    distinct, copy_of, copies = np.unique(pool, axis=0, return_inverse=True, return_counts=True)
    order = rng.permutation(len(distinct))  # distinct rows equally near: a random one, not always the first
    nearest = order[NearestNeighbors(n_neighbors=1).fit(distinct[order]).kneighbors(generated)[1][:, 0]]
    hits = (np.bincount(nearest, minlength=len(distinct)) / copies)[copy_of.reshape(-1)]  # per real row
    observed = float(hits[: len(train)].sum())
    relabelled = np.array([hits[rng.permutation(len(pool))[: len(train)]].sum() for _ in range(PERMUTATIONS)])
    return {
        "nearest_is_training_share": observed / len(generated),
        "nearest_is_training_chance": len(train) / len(pool),
        "p_value": float((1 + np.sum(relabelled >= observed - 1e-9)) / (1 + PERMUTATIONS)),
    }


def _row_keys(frame: pd.DataFrame) -> list[tuple[str, ...]]:
    """Rows as tuples of text (NaN as its own value), so equal rows compare equal whatever the dtypes."""
    texts = frame.astype(object).where(frame.notna(), "<NA>")
    return [tuple(str(value) for value in row) for row in texts.itertuples(index=False)]


def compare_tables(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    metrics: Sequence[str] = ("shapes", "pairs", "detection"),
    holdout: pd.DataFrame | None = None,
    target: str | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """The chosen metrics of a synthetic table against the real (training) one; efficacy and privacy need
    real held-out rows, efficacy a target column (default: the last column)."""
    unknown = sorted(set(metrics) - set(METRICS))
    if unknown:
        raise DataError(f"unknown table metric(s) {unknown}; choose from {', '.join(METRICS)}")
    check_comparable(real, synthetic)
    synthetic = synthetic[list(real.columns)]
    results: dict[str, Any] = {"rows": {"real": len(real), "synthetic": len(synthetic)}}
    if "shapes" in metrics or "pairs" in metrics:
        results["quality"] = quality(real, synthetic)
    if "detection" in metrics:
        results["detection_auc"] = detection_auc(real, synthetic, seed=seed)
    if ("efficacy" in metrics or "privacy" in metrics) and holdout is None:
        raise DataError("efficacy and privacy need real held-out rows the model never saw (--holdout)")
    if "efficacy" in metrics:
        results["efficacy"] = ml_efficacy(real, holdout, synthetic, target or str(real.columns[-1]), seed=seed)
    if "privacy" in metrics:
        results["privacy"] = privacy(real, holdout, synthetic, seed=seed)
    return results

"""Pictures of a detector: score histograms of normal and anomalous rows, the ROC curve."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from scipy.stats import rankdata
from sklearn.metrics import roc_auc_score, roc_curve

WIDE_RANGE = 25.0
"""Scores spanning more than this many times their interquartile range need a log or rank axis
(normal or exponential scores span about 5 to 10 times theirs)."""


def _is_wide(values: np.ndarray) -> bool:
    low, high = np.percentile(values, [25, 75])
    return bool(values.max() - values.min() > WIDE_RANGE * max(high - low, np.finfo(float).tiny))


def score_scale(scores: np.ndarray) -> str:
    """``linear`` where the scores' range suits a linear axis; else ``log`` for positive scores whose
    logarithms do, and ``rank`` for the rest (a few huge outliers would put every other score in one bar)."""
    if not _is_wide(scores):
        return "linear"
    return "log" if scores.min() > 0 and not _is_wide(np.log(scores)) else "rank"


def plot_score_histogram(
    scores: np.ndarray, is_anomaly: np.ndarray, path: str | Path, threshold: float | None = None
) -> Path:
    """Normal and anomalous scores on one axis: linear, logarithmic or by rank, as :func:`score_scale` chooses."""
    scores = np.asarray(scores, dtype=float)
    scale = score_scale(scores)
    label = "anomaly score (higher = more anomalous)"
    if scale == "rank":
        ranks = rankdata(scores) / len(scores)
        if threshold is not None:
            threshold = float((scores <= threshold).mean())
        scores, label = ranks, "anomaly score as a rank among all rows (1 = highest)"
    bins = np.geomspace(scores.min(), scores.max(), 41) if scale == "log" else np.histogram_bin_edges(scores, bins=40)
    figure = Figure(figsize=(5.5, 3.5), layout="constrained")
    axis = figure.subplots()
    axis.hist(scores[~is_anomaly], bins=bins, alpha=0.6, label=f"normal ({int((~is_anomaly).sum())})", density=True)
    axis.hist(scores[is_anomaly], bins=bins, alpha=0.6, label=f"anomalous ({int(is_anomaly.sum())})", density=True)
    if scale == "log":
        axis.set_xscale("log")
        label += ", log scale"
    if threshold is not None:
        axis.axvline(threshold, color="black", linestyle="--", label="threshold")
    axis.set_xlabel(label)
    axis.set_ylabel("density")
    axis.legend()
    figure.savefig(path, dpi=110)
    return Path(path)


def plot_roc_curve(scores: np.ndarray, is_anomaly: np.ndarray, path: str | Path) -> Path:
    false_positive, true_positive, _ = roc_curve(is_anomaly, scores)
    figure = Figure(figsize=(4.0, 4.0), layout="constrained")
    axis = figure.subplots()
    axis.plot(false_positive, true_positive, label=f"AUROC {roc_auc_score(is_anomaly, scores):.3f}")
    axis.plot([0, 1], [0, 1], color="grey", linestyle=":")
    axis.set_xlabel("false-positive rate")
    axis.set_ylabel("true-positive rate")
    axis.legend(loc="lower right")
    figure.savefig(path, dpi=110)
    return Path(path)

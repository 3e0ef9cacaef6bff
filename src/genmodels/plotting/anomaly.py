"""Pictures of a detector: score histograms of normal and anomalous rows, the ROC curve."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from sklearn.metrics import roc_auc_score, roc_curve


def plot_score_histogram(
    scores: np.ndarray, is_anomaly: np.ndarray, path: str | Path, threshold: float | None = None
) -> Path:
    figure = Figure(figsize=(5.5, 3.5), layout="constrained")
    axis = figure.subplots()
    bins = np.histogram_bin_edges(scores, bins=40)
    axis.hist(scores[~is_anomaly], bins=bins, alpha=0.6, label=f"normal ({int((~is_anomaly).sum())})", density=True)
    axis.hist(scores[is_anomaly], bins=bins, alpha=0.6, label=f"anomalous ({int(is_anomaly.sum())})", density=True)
    if threshold is not None:
        axis.axvline(threshold, color="black", linestyle="--", label="threshold")
    axis.set_xlabel("anomaly score (higher = more anomalous)")
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

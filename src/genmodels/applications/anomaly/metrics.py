"""How well anomaly scores separate anomalies (label 1) from normal rows (label 0), by scikit-learn."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, f1_score, precision_score, recall_score, roc_auc_score

from genmodels.errors import ConfigError


def detection_metrics(scores: np.ndarray, is_anomaly: np.ndarray, threshold: float | None = None) -> dict[str, float]:
    """AUROC and AUPRC (average precision) of the scores; at a threshold also F1, precision, recall, FPR."""
    scores, is_anomaly = np.asarray(scores, np.float64), np.asarray(is_anomaly).astype(bool)
    if scores.shape != is_anomaly.shape:
        raise ConfigError(f"{len(scores)} scores but {len(is_anomaly)} labels")
    if not np.isfinite(scores).all():
        raise ConfigError("some anomaly scores are NaN or infinite")
    if is_anomaly.all() or not is_anomaly.any():
        raise ConfigError("AUROC needs both normal rows (label 0) and anomalies (label 1)")
    metrics = {
        "auroc": float(roc_auc_score(is_anomaly, scores)),
        "auprc": float(average_precision_score(is_anomaly, scores)),
        "anomalies": int(is_anomaly.sum()),
        "normal": int((~is_anomaly).sum()),
    }
    if threshold is not None:
        flagged = scores > threshold
        metrics.update(
            threshold=float(threshold),
            f1=float(f1_score(is_anomaly, flagged, zero_division=0)),
            precision=float(precision_score(is_anomaly, flagged, zero_division=0)),
            recall=float(recall_score(is_anomaly, flagged, zero_division=0)),
            false_positive_rate=float(flagged[~is_anomaly].mean()),
        )
    return metrics

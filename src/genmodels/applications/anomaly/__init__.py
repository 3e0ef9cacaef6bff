"""Anomaly detection with generative models: named scores, a calibrated detector, standard protocols."""

from genmodels.applications.anomaly.detector import Detector
from genmodels.applications.anomaly.metrics import detection_metrics
from genmodels.applications.anomaly.scores import (
    SCORE_DESCRIPTIONS,
    anomaly_scores,
    available_scores,
    column_anomaly_map,
    pixel_anomaly_map,
)

__all__ = [
    "SCORE_DESCRIPTIONS",
    "Detector",
    "anomaly_scores",
    "available_scores",
    "column_anomaly_map",
    "detection_metrics",
    "pixel_anomaly_map",
]

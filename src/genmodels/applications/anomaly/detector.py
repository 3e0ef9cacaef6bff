"""A trained generative model turned into an anomaly detector with a calibrated threshold.

``Detector(model, score="nll").fit(normal)`` scores held-out *normal* data and puts the threshold
at its (1 - false_positive_rate) quantile, so about that fraction of normal data is flagged; or,
given ``contamination``, at the quantile that flags that fraction of the data it is fitted on.
Saved as ``detector.json`` (score, threshold, calibration) beside the model it belongs to.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genmodels.applications.anomaly.scores import anomaly_scores
from genmodels.errors import CheckpointError, ConfigError
from genmodels.io.dataclass_json import dataclass_from_dict
from genmodels.io.files import write_text_atomic
from genmodels.io.validation import PositiveInt, check_fields, check_value
from genmodels.models.base import GenerativeModel

DETECTOR_FILE = "detector.json"


@dataclass
class Calibration:
    score: str
    threshold: float
    false_positive_rate: float | None
    contamination: float | None
    calibration_rows: PositiveInt
    calibration_scores: dict[str, float]
    """Quantiles of the calibration scores, to see how the threshold sits among them."""
    score_reference: dict[str, Any] | None = None
    """What the model fitted on the calibration rows to score on one scale (an ensemble's member references)."""

    def __post_init__(self) -> None:
        check_fields(self)


class Detector:
    def __init__(
        self,
        model: GenerativeModel,
        score: str = "nll",
        false_positive_rate: float | None = 0.05,
        contamination: float | None = None,
        seed: int = 0,
    ) -> None:
        if (false_positive_rate is None) == (contamination is None):
            raise ConfigError("give exactly one of false_positive_rate (on normal data) or contamination")
        for name, value in (("false_positive_rate", false_positive_rate), ("contamination", contamination)):
            if value is not None and not 0 < value < 1:
                raise ConfigError(f"{name} must be in (0, 1), got {value}")
        self.model, self.score_name, self.seed = model, score, seed
        self.false_positive_rate, self.contamination = false_positive_rate, contamination
        self.calibration: Calibration | None = None

    def score(self, x: torch.Tensor, batch_size: int = 250) -> np.ndarray:
        """Anomaly scores of the rows of ``x`` (higher = more anomalous); deterministic under the seed."""
        return anomaly_scores(self.model, x, self.score_name, batch_size=batch_size, seed=self.seed)

    def fit(self, data: torch.Tensor) -> Detector:
        """Calibrate the threshold: on held-out normal rows (false-positive rate) or on mixed rows (contamination)."""
        if len(data) < 2:
            raise ConfigError(f"calibration needs at least 2 rows, got {len(data)}")
        torch.manual_seed(self.seed)
        reference = self.model.calibrate_scores(data)
        scores = self.score(data)
        flagged = self.false_positive_rate if self.false_positive_rate is not None else self.contamination
        threshold = float(np.quantile(scores, 1 - flagged, method="higher"))
        quantiles = {f"q{int(q * 100):02d}": float(np.quantile(scores, q)) for q in (0.01, 0.5, 0.95, 0.99)}
        self.calibration = Calibration(
            self.score_name, threshold, self.false_positive_rate, self.contamination, len(data), quantiles, reference
        )
        return self

    @property
    def threshold(self) -> float:
        if self.calibration is None:
            raise RuntimeError("the detector is not calibrated: call fit(normal_data) first")
        return self.calibration.threshold

    def predict(self, x: torch.Tensor) -> np.ndarray:
        """True where a row scores above the threshold: flagged as anomalous."""
        return self.score(x) > self.threshold

    def save(self, directory: str | Path) -> Path:
        path = Path(directory) / DETECTOR_FILE
        if self.calibration is None:
            raise RuntimeError("save a detector after fit()")
        write_text_atomic(path, json.dumps({**asdict(self.calibration), "seed": self.seed}, indent=2) + "\n")
        return path

    @classmethod
    def load(cls, model: GenerativeModel, directory: str | Path) -> Detector:
        path = Path(directory) / DETECTOR_FILE
        if not path.is_file():
            raise CheckpointError(
                f"{path} is missing: {directory} holds no calibrated detector; "
                "run genmodels detect fit, or genmodels detect calibrate on this run"
            )
        try:
            saved = json.loads(path.read_text(encoding="utf-8"))
            if not isinstance(saved, dict):
                raise ConfigError(f"expected an object, got {type(saved).__name__}")
            seed = check_value(saved.pop("seed", 0), int, "seed")
            calibration = dataclass_from_dict(Calibration, saved)
        except (json.JSONDecodeError, UnicodeDecodeError, ConfigError) as error:
            raise CheckpointError(f"{path}: not a detector genmodels can read: {error}") from None
        if calibration.score_reference is not None:
            model.load_score_calibration(calibration.score_reference)
        detector = cls(model, calibration.score, calibration.false_positive_rate, calibration.contamination, seed)
        detector.calibration = calibration
        return detector

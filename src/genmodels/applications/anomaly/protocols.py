"""The standard anomaly-detection protocols, with classic baselines scored on exactly the same splits.

- One-class images (Ruff et al., 2018): train on one class's training images only, calibrate on
  its validation images, test on the whole test split with every other class as the anomalies;
  repeated for each class, reported per class and as the mean AUROC.
- Breast cancer (scikit-learn's Wisconsin diagnostic data): benign tumours are normal, malignant
  ones the rare class, subsampled to 10% of the benign count; the model sees benign rows only
  (60% train, 20% calibration) and is tested on the remaining benign rows plus the malignant ones.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from sklearn.ensemble import IsolationForest
from sklearn.svm import OneClassSVM

from genmodels.applications.anomaly.detector import Detector
from genmodels.applications.anomaly.metrics import detection_metrics
from genmodels.applications.anomaly.scores import available_scores
from genmodels.data import load_data
from genmodels.data.spec import DataSpec
from genmodels.data.tabular import TabularPreprocessor
from genmodels.errors import ConfigError
from genmodels.models.base import GenerativeModel
from genmodels.models.registry import get_model_class
from genmodels.models.sizing import TRAINING_COPIES, build_model_checked
from genmodels.training import Trainer, TrainerConfig

BASELINES = ("isolation_forest", "one_class_svm")
MALIGNANT_SHARE = 0.1


@dataclass
class DetectionSplit:
    """Normal rows to train and calibrate on, and test rows with their truth (True = anomaly)."""

    train: torch.Tensor
    calibration: torch.Tensor
    test: torch.Tensor
    test_is_anomaly: np.ndarray
    preprocessor: TabularPreprocessor | None = None


def one_class_split(data_name: str, normal_class: int, binarize: bool = True) -> DetectionSplit:
    data = load_data(DataSpec(data_name, binarize=binarize))
    if data.train.labels is None:
        raise ConfigError(f"{data_name} has no labels: the one-class protocol needs classes")
    keep = lambda split: split.images[split.labels == normal_class]  # noqa: E731
    return DetectionSplit(
        keep(data.train), keep(data.validation), data.test.images, (data.test.labels != normal_class).numpy()
    )


def breast_cancer_split(seed: int = 0) -> DetectionSplit:
    from sklearn.datasets import load_breast_cancer

    table = load_breast_cancer(as_frame=True)
    frame, malignant = table.data, (table.target == 0).to_numpy()
    rng = np.random.default_rng(seed)
    benign_rows = rng.permutation(np.flatnonzero(~malignant))
    malignant_rows = rng.choice(np.flatnonzero(malignant), round(MALIGNANT_SHARE * len(benign_rows)), replace=False)
    n_train, n_calibration = round(0.6 * len(benign_rows)), round(0.2 * len(benign_rows))
    train_rows = benign_rows[:n_train]
    calibration_rows = benign_rows[n_train : n_train + n_calibration]
    test_rows = np.concatenate([benign_rows[n_train + n_calibration :], malignant_rows])
    preprocessor = TabularPreprocessor.fit(frame.iloc[train_rows])
    return DetectionSplit(
        preprocessor.transform(frame.iloc[train_rows]),
        preprocessor.transform(frame.iloc[calibration_rows]),
        preprocessor.transform(frame.iloc[test_rows]),
        malignant[test_rows],
        preprocessor,
    )


def train_on_normal(
    model_name: str,
    split: DetectionSplit,
    model_config: dict[str, Any] | None = None,
    trainer_config: dict[str, Any] | None = None,
    seed: int = 0,
) -> GenerativeModel:
    """A model of the registered family trained on the normal rows only, best calibration-loss weights kept."""
    model_class = get_model_class(model_name)
    settings = {"data_shape": tuple(split.train.shape[1:]), **(model_config or {})}
    if split.preprocessor is not None:
        settings.update(split.preprocessor.model_settings())
    torch.manual_seed(seed)
    model = build_model_checked(model_class, model_class.config_class.from_dict(settings), copies=TRAINING_COPIES)
    trainer = {**model_class.recommended_training, "progress_bar": False, "tensorboard": False, "seed": seed}
    trainer.update(trainer_config or {})
    trainer["batch_size"] = min(trainer.get("batch_size", 128), len(split.train))
    with tempfile.TemporaryDirectory() as output:
        Trainer(TrainerConfig.from_dict(trainer), output).fit(model, {"x": split.train}, {"x": split.calibration})
    if split.preprocessor is not None:
        model.preprocessor = split.preprocessor
    return model.eval()


def evaluate_scores(
    model: GenerativeModel,
    split: DetectionSplit,
    scores: Sequence[str] | None = None,
    false_positive_rate: float = 0.05,
) -> dict[str, dict[str, float]]:
    """Every applicable score's AUROC/AUPRC on the test rows, and F1 at a threshold calibrated on normal rows."""
    results = {}
    for name in scores or available_scores(model):
        detector = Detector(model, name, false_positive_rate).fit(split.calibration)
        results[name] = detection_metrics(detector.score(split.test), split.test_is_anomaly, detector.threshold)
    return results


def baseline_scores(method: str, split: DetectionSplit, seed: int = 0) -> np.ndarray:
    """Test-row scores (higher = more anomalous) of a scikit-learn detector fitted on the normal training rows."""
    train, test = split.train.flatten(1).numpy(), split.test.flatten(1).numpy()
    if method == "isolation_forest":
        return -IsolationForest(n_estimators=200, random_state=seed).fit(train).score_samples(test)
    if method == "one_class_svm":
        return -OneClassSVM(kernel="rbf", gamma="scale", nu=0.1).fit(train).decision_function(test)
    raise ConfigError(f"unknown baseline {method!r}; choose from {', '.join(BASELINES)}")


def run_protocol(
    protocol: str,
    model_name: str,
    model_config: dict[str, Any] | None = None,
    trainer_config: dict[str, Any] | None = None,
    data_name: str = "mnist5k",
    classes: Sequence[int] | None = None,
    seeds: Sequence[int] = (0,),
    baselines: Sequence[str] = BASELINES,
) -> dict[str, Any]:
    """Per-class (or per-seed) AUROC of each score and baseline, and their means."""
    if protocol == "one-class":
        class_count = load_data(DataSpec(data_name)).info["num_classes"]
        normal_classes = classes or range(class_count)
        cases = [
            (f"class {c}", seed, lambda c=c: one_class_split(data_name, c)) for c in normal_classes for seed in seeds
        ]
    elif protocol == "breast-cancer":
        cases = [(f"seed {seed}", seed, lambda seed=seed: breast_cancer_split(seed)) for seed in seeds]
    else:
        raise ConfigError(f"unknown protocol {protocol!r}; choose one-class or breast-cancer")
    per_case: dict[str, dict[str, float]] = {}
    for case, seed, make_split in cases:
        split = make_split()
        model = train_on_normal(model_name, split, model_config, trainer_config, seed)
        aurocs = {f"{model_name}:{name}": m["auroc"] for name, m in evaluate_scores(model, split).items()}
        for method in baselines:
            aurocs[method] = detection_metrics(baseline_scores(method, split, seed), split.test_is_anomaly)["auroc"]
        per_case[f"{case}, seed {seed}" if protocol == "one-class" and len(seeds) > 1 else case] = aurocs
    methods = list(next(iter(per_case.values())))
    return {
        "protocol": protocol,
        "data": data_name if protocol == "one-class" else "breast_cancer",
        "model": model_name,
        "auroc": per_case,
        "mean_auroc": {method: float(np.mean([row[method] for row in per_case.values()])) for method in methods},
    }

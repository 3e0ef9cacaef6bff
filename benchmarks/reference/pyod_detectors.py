"""PyOD's AutoEncoder and VAE detectors on splits written by benchmarks/anomaly_detection.py.

Runs in the reference virtual environment (``pip install pyod``), never inside genmodels:

    .venv-reference/bin/python benchmarks/reference/pyod_detectors.py CASES.npz OUT.json

Each case holds ``train_<k>`` (normal rows), ``test_<k>`` and ``truth_<k>`` (True = anomaly);
the detectors use PyOD's defaults (AutoEncoder: 10 epochs; VAE: 30 epochs), fitted on the normal
rows only, and their ``decision_function`` is scored by AUROC.
"""

import json
import sys

import numpy as np
import pyod
from pyod.models.auto_encoder import AutoEncoder
from pyod.models.vae import VAE
from sklearn.metrics import roc_auc_score

DETECTORS = {"pyod_autoencoder": AutoEncoder, "pyod_vae": VAE}


def main() -> None:
    cases = np.load(sys.argv[1])
    names = sorted({key.split("_", 1)[1] for key in cases.files})
    results = {}
    for name in names:
        train, test, truth = cases[f"train_{name}"], cases[f"test_{name}"], cases[f"truth_{name}"]
        results[name] = {}
        for label, detector_class in DETECTORS.items():
            detector = detector_class(verbose=0, random_state=0).fit(train)
            results[name][label] = float(roc_auc_score(truth, detector.decision_function(test)))
    with open(sys.argv[2], "w") as handle:
        json.dump({"pyod": pyod.__version__, "auroc": results}, handle, indent=2)


if __name__ == "__main__":
    main()

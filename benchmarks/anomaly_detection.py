"""Anomaly detection protocols: our generative scores against classic and PyOD baselines, same splits.

    python benchmarks/anomaly_detection.py --reference-python .venv-reference/bin/python
    python benchmarks/anomaly_detection.py --protocols "breast cancer" --reference-python .venv-reference/bin/python

One-class mnist5k (binarized; each digit in turn is normal: its 400 training images train, its
validation images calibrate, the 500 test images are scored with the other digits as anomalies)
and breast cancer (benign normal, malignant subsampled to 10% of benign; 5 seeds). Our models:
the MLP VAE (negative ELBO, importance-weighted NLL, reconstruction error), MADE and PixelCNN
(exact NLL and the input-complexity correction), the MLP GAN (critic), the tabular VAE and the
tabular MADE on breast cancer. Baselines: scikit-learn's IsolationForest and OneClassSVM; PyOD's
AutoEncoder and VAE in the reference environment when ``--reference-python`` is given.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from genmodels.applications.anomaly.metrics import detection_metrics
from genmodels.applications.anomaly.protocols import (
    BASELINES,
    baseline_scores,
    breast_cancer_split,
    evaluate_scores,
    one_class_split,
    train_on_normal,
)
from genmodels.io.versions import software_versions

IMAGE_MODELS = {
    "vae": (
        {"hidden_dim": 256, "latent_dim": 16, "importance_samples": 200},
        {"max_steps": 1500, "batch_size": 64, "val_every": 100},
    ),
    "made": ({"hidden_sizes": [500]}, {"max_steps": 1000, "batch_size": 64, "val_every": 100}),
    "pixelcnn": (
        {"channels": 16, "num_layers": 3, "output_channels": 32},
        {"max_steps": 400, "batch_size": 32, "val_every": 100},
    ),
    "gan": ({}, {"max_steps": 1000, "batch_size": 64, "val_every": 500}),
}
TABLE_MODELS = {
    "tabular-vae": ({"hidden_dim": 64, "latent_dim": 4}, {"max_steps": 1000, "batch_size": 32, "val_every": 50}),
    "tabular-made": ({"hidden_sizes": [128], "components": 5}, {"max_steps": 2000, "batch_size": 32, "val_every": 50}),
}
PROTOCOLS = ("one-class mnist5k", "breast cancer")


def run_cases(cases: dict, models: dict, seed_of: dict) -> tuple[dict, dict]:
    """AUROC of every model score and scikit-learn baseline per case, and the splits for PyOD."""
    aurocs, splits, seconds = {}, {}, {}
    for case, make_split in cases.items():
        split = make_split()
        splits[case] = split
        row = {}
        for name, (model_config, trainer_config) in models.items():
            started = time.perf_counter()
            model = train_on_normal(name, split, model_config, trainer_config, seed_of[case])
            for score, metrics in evaluate_scores(model, split).items():
                row[f"{name}:{score}"] = metrics["auroc"]
            seconds[name] = seconds.get(name, 0.0) + time.perf_counter() - started
        for method in BASELINES:
            scores = baseline_scores(method, split, seed_of[case])
            row[method] = detection_metrics(scores, split.test_is_anomaly)["auroc"]
        aurocs[case] = row
        print(case, {key: round(value, 3) for key, value in row.items()}, flush=True)
    return aurocs, {"splits": splits, "seconds": seconds}


def run_pyod(python: str, splits: dict, root: Path) -> dict:
    arrays = {}
    for case, split in splits.items():
        key = case.replace(" ", "-")
        arrays[f"train_{key}"] = split.train.flatten(1).numpy()
        arrays[f"test_{key}"] = split.test.flatten(1).numpy()
        arrays[f"truth_{key}"] = split.test_is_anomaly
    np.savez(root / "cases.npz", **arrays)
    script = Path(__file__).parent / "reference" / "pyod_detectors.py"
    subprocess.run([python, str(script), str(root / "cases.npz"), str(root / "pyod.json")], check=True)
    found = json.loads((root / "pyod.json").read_text())
    return {case: found["auroc"][case.replace(" ", "-")] for case in splits} | {"_version": found["pyod"]}


def summarise(aurocs: dict) -> dict:
    methods = list(next(iter(aurocs.values())))
    return {method: float(np.mean([row[method] for row in aurocs.values()])) for method in methods}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes", type=int, nargs="+", default=list(range(10)))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4], help="breast-cancer seeds")
    parser.add_argument("--reference-python", help="python of the reference venv (runs PyOD)")
    parser.add_argument("--protocols", nargs="+", choices=PROTOCOLS, default=list(PROTOCOLS),
                        help="protocols to run; the others' results already in --output are kept")  # fmt: skip
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results/anomaly_detection.json"))
    args = parser.parse_args()
    protocols = {
        "one-class mnist5k": (
            {f"class {c}": (lambda c=c: one_class_split("mnist5k", c)) for c in args.classes},
            IMAGE_MODELS,
            {f"class {c}": 0 for c in args.classes},
        ),
        "breast cancer": (
            {f"seed {s}": (lambda s=s: breast_cancer_split(s)) for s in args.seeds},
            TABLE_MODELS,
            {f"seed {s}": s for s in args.seeds},
        ),
    }
    results = json.loads(args.output.read_text()) if args.output.is_file() else {}
    run = {"command": "python " + " ".join(sys.argv), "versions": software_versions()}
    with tempfile.TemporaryDirectory() as root:
        for protocol in args.protocols:
            cases, models, seeds = protocols[protocol]
            aurocs, extra = run_cases(cases, models, seeds)
            if args.reference_python:
                pyod = run_pyod(args.reference_python, extra["splits"], Path(root))
                run["pyod_version"] = pyod.pop("_version")
                for case in aurocs:
                    aurocs[case].update(pyod[case])
            results[protocol] = {
                "auroc": aurocs,
                "mean_auroc": summarise(aurocs),
                "train_seconds_total": extra["seconds"],
                "models": models,
                "run": run,
            }
            print(protocol, json.dumps(results[protocol]["mean_auroc"], indent=2), flush=True)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()

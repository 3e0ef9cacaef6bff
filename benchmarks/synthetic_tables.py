"""Synthetic tables: genmodels' tabular-flow and tabular-vae beside SDV 2.x GaussianCopula, CTGAN and TVAE.

Each table (scikit-learn's breast cancer, wine and diabetes; SDMetrics' student_placements demo, all
offline) is split once (seed 0) into 70% training, 10% validation and 20% held-out rows. Every
synthesizer learns from the same training rows (genmodels also watches the validation rows to keep
its best checkpoint), draws as many synthetic rows, and is judged by
:mod:`genmodels.evaluation.synthetic_tables` against the training rows: overall quality (SDMetrics'
definition), detection AUC, efficacy (train on synthetic, test on held-out, beside train on real) and
privacy (DCR quantiles beside held-out rows', exact copies). genmodels trains for ``--seconds`` of
wall clock; SDV runs at its default settings in its own environment (benchmarks/reference/sdv_env.sh),
and its training time is reported beside. Also: held-out NLL per row of tabular-flow, tabular-made and
tabular-vae (nats on the standardised encoding).

    python benchmarks/reference/sdv_env.sh        # once: /work/venvs/sdv
    python benchmarks/synthetic_tables.py --seconds 30
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch

import genmodels
from genmodels.data import DataSpec, load_data
from genmodels.data.tabular import table_splits
from genmodels.evaluation.synthetic_tables import compare_tables
from genmodels.io.versions import software_versions
from genmodels.models.registry import get_model_class
from genmodels.runs import make_spec, train_run

RESULTS = Path(__file__).parent / "results" / "synthetic_tables.json"
SDV_SCRIPT = Path(__file__).parent / "reference" / "sdv_synthesize.py"
SDV_SYNTHESIZERS = ("GaussianCopula", "CTGAN", "TVAE")
GENMODELS_SYNTHESIZERS = ("tabular-flow", "tabular-vae")


def load_tables() -> dict[str, tuple[pd.DataFrame, str]]:
    """Each table with its efficacy target (classes as text, so they are categorical)."""
    from sdmetrics.demos import load_single_table_demo
    from sklearn.datasets import load_breast_cancer, load_diabetes, load_wine

    tables = {}
    for name, loader in (("breast_cancer", load_breast_cancer), ("wine", load_wine)):
        frame = loader(as_frame=True).frame
        tables[name] = (frame.assign(target="class_" + frame["target"].astype(str)), "target")
    tables["diabetes"] = (load_diabetes(as_frame=True, scaled=False).frame, "target")
    placements = next(iter(load_single_table_demo()[0].values())).drop(columns="student_id")
    tables["student_placements"] = (placements.astype({"placed": str}), "placed")
    return tables


def run_sdv(python: Path, train_csv: Path, synthesizer: str, rows: int, output: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [str(python), str(SDV_SCRIPT), "--train", str(train_csv), "--synthesizer", synthesizer]
        + ["--rows", str(rows), "--output", str(output)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def train_genmodels(
    model: str, data: dict, run_dir: Path, seconds: float, train_rows: int
) -> tuple[genmodels.GenerativeModel, float]:
    """The family's recommended settings, for ``seconds``; batches at most half the training rows (wine is small)."""
    batch_size = min(get_model_class(model).recommended_training.get("batch_size", 64), train_rows // 2)
    trainer = {"max_seconds": seconds, "max_steps": 1_000_000, "val_every": 50, "seed": 0, "batch_size": batch_size}
    start = time.perf_counter()
    train_run(make_spec(model, data, trainer=trainer), run_dir)
    return genmodels.load(run_dir), time.perf_counter() - start


def held_out_nll(model: genmodels.GenerativeModel, spec_data: dict) -> float:
    data = load_data(DataSpec.from_dict({**model.recommended_data, **spec_data}))
    with torch.no_grad():
        return float(-model.log_prob(data.test.images).mean())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=30.0, help="genmodels' training budget per model")
    parser.add_argument("--sdv-python", type=Path, default=Path("/work/venvs/sdv/bin/python"))
    parser.add_argument("--tables", nargs="*", default=None)
    parser.add_argument("--output", type=Path, default=RESULTS)
    arguments = parser.parse_args()
    results = {"seconds": arguments.seconds, "versions": software_versions(), "tables": {}}
    work = Path(tempfile.mkdtemp(prefix="synthetic-tables-"))
    for name, (frame, target) in load_tables().items():
        if arguments.tables and name not in arguments.tables:
            continue
        csv = work / f"{name}.csv"
        frame.to_csv(csv, index=False)
        data = {"name": str(csv), "test_fraction": 0.2, "validation_fraction": 0.1, "split_seed": 0}
        data["missing_values"] = "indicator"
        splits = table_splits(DataSpec.from_dict(data))
        train, holdout = splits["train"], splits["test"]
        train_csv = work / f"{name}-train.csv"
        train.to_csv(train_csv, index=False)
        synthetic: dict[str, pd.DataFrame] = {}
        times: dict[str, float] = {}
        processes = {
            synthesizer: run_sdv(
                arguments.sdv_python, train_csv, synthesizer, len(train), work / f"{name}-{synthesizer}.csv"
            )
            for synthesizer in SDV_SYNTHESIZERS
        }
        nll = {}
        for model_name in (*GENMODELS_SYNTHESIZERS, "tabular-made"):
            model, seconds = train_genmodels(
                model_name, data, work / f"{name}-{model_name}", arguments.seconds, len(train)
            )
            nll[model_name] = held_out_nll(model, data)
            if model_name in GENMODELS_SYNTHESIZERS:
                synthetic[f"genmodels {model_name}"] = model.sample_table(len(train), torch.Generator().manual_seed(0))
                times[f"genmodels {model_name}"] = seconds
        for synthesizer, process in processes.items():
            stdout, stderr = process.communicate()
            if process.returncode != 0:
                raise RuntimeError(f"SDV {synthesizer} on {name} failed: {stderr[-2000:]}")
            times[f"SDV {synthesizer}"] = json.loads(stdout.strip().splitlines()[-1])["seconds"]
            synthetic[f"SDV {synthesizer}"] = pd.read_csv(work / f"{name}-{synthesizer}.csv")
        scores = {}
        for label, rows in synthetic.items():
            result = compare_tables(
                train, rows, ("shapes", "pairs", "detection", "efficacy", "privacy"), holdout=holdout, target=target
            )
            scores[label] = {
                "overall_quality": result["quality"]["overall"],
                "column_shapes": result["quality"]["column_shapes"],
                "column_pair_trends": result["quality"]["column_pair_trends"],
                "detection_auc": result["detection_auc"],
                "efficacy": result["efficacy"],
                "privacy": result["privacy"],
                "training_seconds": times[label],
            }
            print(name, label, {key: scores[label][key] for key in ("overall_quality", "detection_auc")}, flush=True)
        results["tables"][name] = {
            "rows": {"train": len(train), "validation": len(splits["validation"]), "held_out": len(holdout)},
            "target": target,
            "synthesizers": scores,
            "held_out_nll_per_row": nll,
        }
        arguments.output.parent.mkdir(parents=True, exist_ok=True)
        arguments.output.write_text(json.dumps(results, indent=2, default=float) + "\n", encoding="utf-8")
    print(f"wrote {arguments.output}")


if __name__ == "__main__":
    main()

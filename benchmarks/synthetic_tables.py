"""Synthetic tables: genmodels' tabular-flow and tabular-vae beside SDV 2.x GaussianCopula, CTGAN and TVAE.

Each table (scikit-learn's breast cancer, wine and diabetes; SDMetrics' student_placements demo, all
offline) is split once (seed 0) into 70% training, 10% validation and 20% held-out rows. Every
synthesizer learns from the same training rows (genmodels also watches the validation rows to keep
its best checkpoint), draws as many synthetic rows, and is judged by
:mod:`genmodels.evaluation.synthetic_tables` against the training rows: overall quality (SDMetrics'
definition), detection AUC, efficacy (train on synthetic, test on held-out, beside train on real) and
privacy (DCR quantiles beside held-out rows', exact copies). genmodels trains for ``--seconds`` of
wall clock; SDV runs at its default settings in its own environment (benchmarks/reference/sdv_env.sh),
and its training time is reported beside. Each of ``--seeds`` trains and samples every synthesizer
again (genmodels' training seed; SDV's seeds of NumPy, PyTorch and Python), so the tables give
mean and spread. Also: held-out NLL per row of tabular-flow, tabular-made and tabular-vae (nats on
the standardised encoding).

    bash benchmarks/reference/sdv_env.sh        # once: /work/venvs/sdv
    python benchmarks/synthetic_tables.py --seconds 30 --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import pandas as pd
import torch
from scipy.stats import combine_pvalues

import genmodels
from genmodels.data import DataSpec, load_data
from genmodels.data.tabular import table_splits
from genmodels.evaluation.synthetic_tables import METRICS, PRIVACY_SIGNIFICANCE, compare_tables
from genmodels.io.versions import software_versions
from genmodels.models.registry import get_model_class
from genmodels.runs import make_spec, train_run

RESULTS = Path(__file__).parent / "results" / "synthetic_tables.json"
SDV_SCRIPT = Path(__file__).parent / "reference" / "sdv_synthesize.py"
SDV_SYNTHESIZERS = ("GaussianCopula", "CTGAN", "TVAE")
GENMODELS_SYNTHESIZERS = ("tabular-flow", "tabular-vae")
GENMODELS_MODELS = (*GENMODELS_SYNTHESIZERS, "tabular-made")


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


def run_sdv(python: Path, train_csv: Path, synthesizer: str, rows: int, output: Path, seed: int) -> float:
    """SDV's fit time, after it wrote ``rows`` synthetic rows to ``output``."""
    process = subprocess.run(
        [str(python), str(SDV_SCRIPT), "--train", str(train_csv), "--synthesizer", synthesizer]
        + ["--rows", str(rows), "--output", str(output), "--seed", str(seed)],
        capture_output=True,
        text=True,
        check=False,
    )
    if process.returncode != 0:
        raise RuntimeError(f"SDV {synthesizer} on {train_csv.name} failed: {process.stderr[-2000:]}")
    return json.loads(process.stdout.strip().splitlines()[-1])["seconds"]


def train_genmodels(
    model: str, data: dict, run_dir: Path, seconds: float, train_rows: int, seed: int
) -> tuple[genmodels.GenerativeModel, float]:
    """The family's recommended settings, for ``seconds``; batches at most half the training rows (wine is small)."""
    batch_size = min(get_model_class(model).recommended_training.get("batch_size", 64), train_rows // 2)
    trainer = {"max_seconds": seconds, "max_steps": 1_000_000, "val_every": 50, "seed": seed, "batch_size": batch_size}
    start = time.perf_counter()
    train_run(make_spec(model, data, trainer=trainer), run_dir)
    return genmodels.load(run_dir), time.perf_counter() - start


def held_out_nll(model: genmodels.GenerativeModel, spec_data: dict) -> float:
    data = load_data(DataSpec.from_dict({**model.recommended_data, **spec_data}))
    with torch.no_grad():
        return float(-model.log_prob(data.test.images).mean())


def write_results(path: Path, results: dict, table: str, seed: int) -> None:
    """Add one table's run with one seed to the file, keeping the others (runs of single tables and seeds merge)."""
    merged = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {"tables": {}}
    merged.update({key: value for key, value in results.items() if key != "tables"})
    entry = merged["tables"].setdefault(table, {"runs": {}})
    entry.update({key: value for key, value in results["tables"][table].items() if key != "runs"})
    entry.setdefault("runs", {})[str(seed)] = results["tables"][table]["runs"][str(seed)]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(merged, indent=2, default=float) + "\n", encoding="utf-8")


def _spread(values: list[float], digits: int) -> str:
    """Mean, and ± the standard deviation over seeds when there are several."""
    if len(values) == 1:
        return f"{values[0]:.{digits}f}"
    return f"{statistics.mean(values):.{digits}f} ± {statistics.stdev(values):.{digits}f}"


def goal_met(runs: list[dict]) -> dict[str, bool]:
    """The goal for one table: tabular-flow's mean quality above, and mean detection AUC below, every SDV
    synthesizer's; no more exact copies than any of them makes; synthetic rows no nearer the training rows
    than held-out rows are: the seeds' permutation-test p-values combined by Fisher's method at least
    :data:`PRIVACY_SIGNIFICANCE` (demanding p >= 0.05 of every seed would fail a faithful generator
    one time in seven with three seeds; the seeds share one split, so the combination errs towards flagging)."""

    def mean(label: str, key: str) -> float:
        return statistics.mean(run["synthesizers"][label][key] for run in runs)

    flow, sdv = "genmodels tabular-flow", [f"SDV {name}" for name in SDV_SYNTHESIZERS]
    copies = [run["synthesizers"][label]["privacy"]["exact_copy_share"] for run in runs for label in sdv]
    return {
        "quality": all(mean(flow, "overall_quality") > mean(label, "overall_quality") for label in sdv),
        "detection": all(mean(flow, "detection_auc") < mean(label, "detection_auc") for label in sdv),
        "copies": all(run["synthesizers"][flow]["privacy"]["exact_copy_share"] <= min(copies) for run in runs),
        "privacy": combined_p_value(runs, flow) >= PRIVACY_SIGNIFICANCE,
    }


def combined_p_value(runs: list[dict], label: str) -> float:
    """Fisher's combination of one synthesizer's privacy p-values over the seeds."""
    return float(combine_pvalues([run["synthesizers"][label]["privacy"]["p_value"] for run in runs]).pvalue)


def markdown_tables(results: dict) -> str:
    """The results as the docs' tables: one row per table and synthesizer (mean ± sd over seeds), the goal
    per table, then the held-out NLL."""
    lines = [
        "| table | synthesizer | overall quality | detection AUC | efficacy (real → synthetic) | DCR q05 / q50 "
        "(held-out) | nearest real row from training (chance), lowest p | exact copies | training s |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    goals = []
    for table, result in results["tables"].items():
        runs = list(result["runs"].values())
        for label in runs[0]["synthesizers"]:
            scores = [run["synthesizers"][label] for run in runs]
            efficacy, privacy = scores[0]["efficacy"], [score["privacy"] for score in scores]
            lines.append(
                f"| {table} | {label} | {_spread([score['overall_quality'] for score in scores], 3)} | "
                f"{_spread([score['detection_auc'] for score in scores], 3)} | {efficacy['metric']} "
                f"{efficacy['train_real']:.3f} → {_spread([s['efficacy']['train_synthetic'] for s in scores], 3)} | "
                f"{statistics.mean(p['dcr_synthetic']['q05'] for p in privacy):.2f} / "
                f"{statistics.mean(p['dcr_synthetic']['q50'] for p in privacy):.2f} "
                f"({privacy[0]['dcr_holdout']['q05']:.2f} / {privacy[0]['dcr_holdout']['q50']:.2f}) | "
                f"{statistics.mean(p['nearest_is_training_share'] for p in privacy):.1%} "
                f"({privacy[0]['nearest_is_training_chance']:.1%}), {min(p['p_value'] for p in privacy):.3f} | "
                f"{max(p['exact_copy_share'] for p in privacy):.1%} | "
                f"{statistics.mean(score['training_seconds'] for score in scores):.0f} |"
            )
        met = goal_met(runs)
        cells = ["yes" if met[key] else "**no**" for key in met]
        cells[-1] += f" (p = {combined_p_value(runs, 'genmodels tabular-flow'):.3f})"
        goals.append(f"| {table} | {len(runs)} | " + " | ".join(cells) + " |")
    lines += ["", "| table | seeds | quality above SDV | detection below SDV | copies | no nearer than held-out |",
              "| --- | --- | --- | --- | --- | --- |", *goals]  # fmt: skip
    lines += ["", "| table | " + " | ".join(GENMODELS_MODELS) + " |", "| --- |" + " --- |" * len(GENMODELS_MODELS)]
    for table, result in results["tables"].items():
        runs = list(result["runs"].values())
        cells = [_spread([run["held_out_nll_per_row"][name] for run in runs], 2) for name in GENMODELS_MODELS]
        lines.append(f"| {table} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def compare_synthesizers(
    name: str,
    data: dict,
    train: pd.DataFrame,
    holdout: pd.DataFrame,
    target: str,
    work: Path,
    arguments: argparse.Namespace,
    seed: int,
) -> dict:
    """Every synthesizer trained with ``seed`` on the training rows, sampled and judged; genmodels' held-out NLL."""
    work.mkdir(parents=True, exist_ok=True)
    synthetic: dict[str, pd.DataFrame] = {}
    times: dict[str, float] = {}
    nll = {}
    for model_name in GENMODELS_MODELS:
        model, seconds = train_genmodels(model_name, data, work / f"{name}-{model_name}", arguments.seconds,
                                         len(train), seed)  # fmt: skip
        nll[model_name] = held_out_nll(model, data)
        if model_name in GENMODELS_SYNTHESIZERS:
            synthetic[f"genmodels {model_name}"] = model.sample_table(len(train), torch.Generator().manual_seed(seed))
            times[f"genmodels {model_name}"] = seconds
    for synthesizer in SDV_SYNTHESIZERS:  # one at a time, after genmodels: no run slows another
        output = work / f"{name}-{synthesizer}.csv"
        times[f"SDV {synthesizer}"] = run_sdv(arguments.sdv_python, work.parent / f"{name}-train.csv", synthesizer,
                                              len(train), output, seed)  # fmt: skip
        synthetic[f"SDV {synthesizer}"] = pd.read_csv(output)
    scores = {}
    for label, rows in synthetic.items():
        result = compare_tables(train, rows, METRICS, holdout=holdout, target=target)
        scores[label] = {
            "overall_quality": result["quality"]["overall"],
            "column_shapes": result["quality"]["column_shapes"],
            "column_pair_trends": result["quality"]["column_pair_trends"],
            "detection_auc": result["detection_auc"],
            "efficacy": result["efficacy"],
            "privacy": result["privacy"],
            "training_seconds": times[label],
        }
        print(name, seed, label, {key: scores[label][key] for key in ("overall_quality", "detection_auc")}, flush=True)
    return {"synthesizers": scores, "held_out_nll_per_row": nll}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=30.0, help="genmodels' training budget per model")
    parser.add_argument("--sdv-python", type=Path, default=Path("/work/venvs/sdv/bin/python"))
    parser.add_argument("--tables", nargs="*", default=None)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--output", type=Path, default=RESULTS)
    parser.add_argument("--markdown", action="store_true", help="print the results file as the docs' tables")
    arguments = parser.parse_args()
    if arguments.markdown:
        print(markdown_tables(json.loads(arguments.output.read_text(encoding="utf-8"))))
        return
    results = {"seconds": arguments.seconds, "versions": software_versions(), "tables": {}}
    work = Path(tempfile.mkdtemp(prefix="synthetic-tables-"))
    tables = load_tables()
    for name in arguments.tables or list(tables):
        frame, target = tables[name]
        csv = work / f"{name}.csv"
        frame.to_csv(csv, index=False)
        data = {"name": str(csv), "test_fraction": 0.2, "validation_fraction": 0.1, "split_seed": 0}
        data["missing_values"] = "indicator"
        splits = table_splits(DataSpec.from_dict(data))
        train, holdout = splits["train"], splits["test"]
        train_csv = work / f"{name}-train.csv"
        train.to_csv(train_csv, index=False)
        for seed in arguments.seeds:
            run = compare_synthesizers(name, data, train, holdout, target, work / f"seed{seed}", arguments, seed)
            results["tables"][name] = {
                "rows": {"train": len(train), "validation": len(splits["validation"]), "held_out": len(holdout)},
                "target": target,
                "runs": {str(seed): run},
            }
            write_results(arguments.output, results, name, seed)
    print(f"wrote {arguments.output}")


if __name__ == "__main__":
    main()

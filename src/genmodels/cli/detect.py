"""``genmodels detect``: fit or calibrate a detector on normal data, score new rows, evaluate, run protocols.

A detector run directory is a training run (see :mod:`genmodels.runs`) plus ``detector.json``
(the score and its calibrated threshold). Tables are encoded with the ``preprocessor.json`` saved
beside the model; images come as ``.npy`` arrays ``(n, C, H, W)`` in [0, 1].
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from genmodels.cli.lists import ListOptionsCommand
from genmodels.cli.printing import console
from genmodels.cli.settings import parse_assignments

if TYPE_CHECKING:
    import torch

detect_app = typer.Typer(
    help="Anomaly detection: fit, score, evaluate, and the standard protocols.", no_args_is_help=True
)
ScoreName = Annotated[str, typer.Option(help="nll, negative_elbo, reconstruction, critic, input_complexity.")]
FalsePositiveRate = Annotated[float, typer.Option(help="False-positive rate on held-out normal data.")]


@detect_app.command(
    "fit",
    cls=ListOptionsCommand,
    epilog="Examples:\n\n  genmodels detect fit --model tabular-made --data transactions.csv -o runs/fraud\n\n"
    "  genmodels detect fit --model vae --data mnist5k --score negative_elbo --fpr 0.01",
)
def fit(
    model: Annotated[str, typer.Option(help="Registered model (tabular-made or tabular-vae for tables).")],
    data: Annotated[str, typer.Option(help="Normal data: a built-in data set, a folder, or a CSV/Parquet table.")],
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Run directory.")] = None,
    score: ScoreName = "nll",
    fpr: FalsePositiveRate = 0.05,
    max_steps: Annotated[Optional[int], typer.Option(help="Training steps.")] = None,
    seed: Annotated[int, typer.Option(help="Seed of training, splits' noise and scores.")] = 0,
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="model.X=..., data.X=..., trainer.X=...")] = None,
) -> None:
    """Train a model on normal data, then calibrate a threshold on its held-out normal (validation) split.

    Every option is checked before training: the false-positive rate at once, the score on the
    built model; a refused command leaves no run directory behind.
    """
    from genmodels.io.run_directory import claim_run_directory
    from genmodels.runs import default_run_dir, make_spec, train_run

    _check_false_positive_rate(fpr)
    sections = parse_assignments(set_ or [])
    trainer = {**sections["trainer"], "seed": seed, "progress_bar": False}
    if max_steps is not None:
        trainer["max_steps"] = max_steps
    spec = make_spec(model, {**sections["data"], "name": data}, sections["model"], trainer)
    run_dir = output or default_run_dir(f"detect-{model}", data)
    hint = "choose another directory (`genmodels detect calibrate RUN` recalibrates a trained run)"
    with claim_run_directory(run_dir, refusal_hint=hint):
        outcome = train_run(spec, run_dir, check_model=lambda built: _check_score(built, score))
        if outcome is None:
            return
        _save_detector(outcome.model, outcome.data.validation.images, outcome.run_dir, score, fpr, seed)


def _check_false_positive_rate(fpr: float) -> None:
    if not 0 < fpr < 1:
        raise typer.BadParameter(f"--fpr must be in (0, 1), a fraction of normal rows to flag; got {fpr}")


def _check_score(model, score: str) -> None:
    """Refuse a score the model does not offer, naming those it does."""
    from genmodels.applications.anomaly.scores import available_scores

    offered = available_scores(model)
    if score not in offered:
        raise typer.BadParameter(
            f"--score {score!r} does not apply to {model.model_type}; it offers {', '.join(offered)}"
        )


@detect_app.command(
    "calibrate",
    cls=ListOptionsCommand,
    epilog="Examples:\n\n  genmodels detect calibrate runs/detector-3\n\n"
    "  genmodels detect calibrate runs/vae --data mnist5k --set data.classes=[3] --score negative_elbo",
)
def calibrate(
    run: Annotated[Path, typer.Argument(help="A saved run or model: an ensemble from `ensemble create`, any model.")],
    data: Annotated[Optional[str], typer.Option(help="Normal data \\[default: the run's own data].")] = None,
    score: ScoreName = "nll",
    fpr: FalsePositiveRate = 0.05,
    seed: Annotated[int, typer.Option(help="Seed of the scores.")] = 0,
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="data.X=... (with --data)")] = None,
) -> None:
    """Calibrate a threshold for a model that is already trained, on the validation split of normal data.

    An ensemble keeps its members' reference scores in the detector, so `detect score` and
    `detect evaluate` then work on it as on any detector run.
    """
    import genmodels
    from genmodels.data import DataSpec, load_data
    from genmodels.io.run_directory import claim_run_directory
    from genmodels.runs import load_run_spec

    _check_false_positive_rate(fpr)
    if data is None and set_:
        raise typer.BadParameter("--set data.X=... goes with --data")
    model = genmodels.load(run)
    _check_score(model, score)
    if data is None:
        spec = load_run_spec(run).data
    else:
        spec = DataSpec.from_dict({**parse_assignments(set_ or [])["data"], "name": data})
    with claim_run_directory(run, new=False):
        _save_detector(model, load_data(spec).validation.images, run, score, fpr, seed)


def _save_detector(model, normal: torch.Tensor, run_dir: Path, score: str, fpr: float, seed: int) -> None:
    """Calibrate the model's detector on held-out normal rows and save it beside the model."""
    from genmodels.applications.anomaly import Detector

    detector = Detector(model, score, fpr, seed=seed).fit(normal)
    detector.save(run_dir)
    console.print(f"detector ({score}) threshold {detector.threshold:.4g} at FPR {fpr} -> {run_dir}")


@detect_app.command(
    "score", cls=ListOptionsCommand, epilog="Examples:\n\n  genmodels detect score runs/fraud new.csv -o scores.csv"
)
def score_rows(
    run: Annotated[Path, typer.Argument(help="Run directory written by `detect fit`.")],
    rows: Annotated[Path, typer.Argument(help="A CSV/Parquet table or a .npy array of new rows.")],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="CSV: row, score, flag, rank (and nll:COLUMN for tabular-made).")
    ] = Path("scores.csv"),
    chunk_rows: Annotated[
        Optional[int],
        typer.Option(
            help="Read, score and write this many rows at a time (CSV or Parquet out, no rank column): memory stays "
            "at one chunk, and a killed job run again continues where it stopped."
        ),
    ] = None,
) -> None:
    """Score new rows: the anomaly score, whether it passes the threshold, and its rank (1 = most anomalous).

    For a table model with per-column likelihoods (tabular-made), each column's share of the row's
    NLL follows as ``nll:COLUMN``: the largest says which column makes the row unlikely.
    """
    import genmodels
    from genmodels.applications.anomaly import Detector
    from genmodels.applications.anomaly.rows import read_rows, scored_rows
    from genmodels.io.files import write_text_atomic
    from genmodels.io.run_directory import claim_output

    model = genmodels.load(run)
    detector = Detector.load(model, run)
    if chunk_rows is not None:
        from genmodels.applications.bulk import score_in_chunks

        with claim_output(output):
            count = score_in_chunks(detector, rows, output, chunk_rows, run=str(run.resolve()))
        console.print(f"scored {count} rows; wrote {output}")
        return
    x, raw = read_rows(model, rows)
    table = scored_rows(detector, x, per_column=raw is not None)
    with claim_output(output):
        write_text_atomic(output, table.to_csv(index=False))
    console.print(f"{int(table['flag'].sum())} of {len(table)} rows flagged; wrote {output}")


@detect_app.command(
    "evaluate",
    cls=ListOptionsCommand,
    epilog="Examples:\n\n  genmodels detect evaluate runs/fraud labelled.csv --labels is_fraud\n\n"
    "  genmodels detect evaluate runs/digits test.npy --labels test_labels.npy",
)
def evaluate(
    run: Annotated[Path, typer.Argument(help="Run directory written by `detect fit`.")],
    rows: Annotated[Path, typer.Argument(help="Labelled rows: a table or a .npy array.")],
    labels: Annotated[str, typer.Option(help="The table's label column, or a .npy file; 1/True = anomaly.")],
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Folder \\[default: RUN/detection].")] = None,
) -> None:
    """AUROC, AUPRC and F1 at the threshold; a score histogram and the ROC curve as PNG."""
    import numpy as np

    import genmodels
    from genmodels.applications.anomaly import Detector, detection_metrics
    from genmodels.applications.anomaly.rows import read_rows
    from genmodels.io.files import write_text_atomic
    from genmodels.io.run_directory import claim_output
    from genmodels.plotting.anomaly import plot_roc_curve, plot_score_histogram

    model = genmodels.load(run)
    detector = Detector.load(model, run)
    if labels.endswith(".npy"):
        truth = np.load(labels, allow_pickle=False)
        x, _ = read_rows(model, rows)
    else:
        from genmodels.data.tabular import read_table

        table = read_table(rows)
        if labels not in table.columns:
            raise typer.BadParameter(f"{rows} has no column {labels!r}")
        truth = table.pop(labels).to_numpy()
        x = model.preprocessor.transform(table)
    if not set(np.unique(truth).tolist()) <= {0, 1}:
        raise typer.BadParameter(f"labels must be 0/1 or booleans (1 = anomaly), got values {np.unique(truth)[:5]}")
    truth = truth.astype(bool)
    scores = detector.score(x)
    metrics = detection_metrics(scores, truth, detector.threshold)
    folder = output or run / "detection"
    with claim_output(folder):
        folder.mkdir(parents=True, exist_ok=True)
        pictures = {
            "histogram": str(plot_score_histogram(scores, truth, folder / "score_histogram.png", detector.threshold)),
            "roc": str(plot_roc_curve(scores, truth, folder / "roc_curve.png")),
        }
        record = {"run": str(run), "rows": str(rows), "score": detector.score_name, **metrics, "pictures": pictures}
        write_text_atomic(folder / "evaluation.json", json.dumps(record, indent=2) + "\n")
    for name in ("auroc", "auprc", "f1", "precision", "recall", "false_positive_rate"):
        console.print(f"{name}: {metrics[name]:.4f}")
    console.print(f"wrote {folder}")


@detect_app.command(
    "protocol",
    cls=ListOptionsCommand,
    epilog="Examples:\n\n  genmodels detect protocol one-class --model vae --data mnist5k\n\n"
    "  genmodels detect protocol breast-cancer --model tabular-made --seeds 0 1 2 3 4",
)
def protocol(
    name: Annotated[str, typer.Argument(help="one-class or breast-cancer.")],
    model: Annotated[str, typer.Option(help="Registered model.")] = "vae",
    data: Annotated[str, typer.Option(help="Image data set of the one-class protocol.")] = "mnist5k",
    classes: Annotated[Optional[list[int]], typer.Option(help="Normal classes to run \\[default: all].")] = None,
    seeds: Annotated[Optional[list[int]], typer.Option(help="Seeds \\[default: 0].")] = None,
    max_steps: Annotated[Optional[int], typer.Option(help="Training steps per model.")] = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="JSON file.")] = None,
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="model.X=..., trainer.X=...")] = None,
) -> None:
    """Run a standard protocol: every score of the model and the scikit-learn baselines on the same splits."""
    from genmodels.applications.anomaly.protocols import run_protocol
    from genmodels.io.files import write_text_atomic
    from genmodels.io.versions import software_versions

    sections = parse_assignments(set_ or [])
    trainer = dict(sections["trainer"])
    if max_steps is not None:
        trainer["max_steps"] = max_steps
    result = run_protocol(name, model, sections["model"], trainer, data, classes, seeds or [0])
    result["versions"] = software_versions()
    path = output or Path(f"anomaly-{name}-{model}.json")
    write_text_atomic(path, json.dumps(result, indent=2) + "\n")
    for method, value in result["mean_auroc"].items():
        console.print(f"mean AUROC {method}: {value:.4f}")
    console.print(f"wrote {path}")

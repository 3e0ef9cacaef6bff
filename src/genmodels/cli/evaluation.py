"""``genmodels evaluate``: a trained model on held-out data, its likelihood, losses and sample quality."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from genmodels.cli.lists import ListOptionsCommand
from genmodels.cli.printing import console, result_rows

evaluation_commands = typer.Typer()

ImportanceSamples = Annotated[
    Optional[int],
    typer.Option(help="Importance samples K of the likelihood estimate (VAEs) \\[default: the model's]."),
]
Metrics = Annotated[
    Optional[str],
    typer.Option(
        help="Sample-quality metrics, comma-separated: fd, prd (precision/recall), coverage (density/coverage), "
        "classes; or none \\[default: all, where the data set has a feature network]. Table runs: shapes, pairs, "
        "detection, efficacy, privacy (synthetic rows against the training rows, held-out rows from --split)."
    ),
]
NumSamples = Annotated[
    Optional[int], typer.Option(help="Samples for the sample-quality metrics \\[default: validation + test size].")
]
FeatureNetwork = Annotated[
    Optional[str], typer.Option(help="Feature network: a data set name or a directory \\[default: the run's data].")
]


@evaluation_commands.command(
    cls=ListOptionsCommand,
    epilog="Examples:\n\n  genmodels evaluate runs/vae-digits\n\n"
    "  genmodels evaluate runs/vae-mnist5k --split validation -o val.json\n\n"
    "  genmodels evaluate runs/dcgan-mnist5k --metrics fd,prd,coverage --num-samples 2000\n\n"
    "  genmodels evaluate runs/tabular-flow-table --metrics shapes,pairs,detection,efficacy,privacy --target income",
)
def evaluate(
    run: Annotated[Path, typer.Argument(help="Run directory (its data spec is reused).")],
    split: Annotated[str, typer.Option(help="test or validation.")] = "test",
    output: Annotated[
        Optional[Path], typer.Option("--output", "-o", help="JSON file \\[default: RUN/evaluation-SPLIT.json].")
    ] = None,
    importance_samples: ImportanceSamples = None,
    metrics: Metrics = None,
    num_samples: NumSamples = None,
    feature_network: FeatureNetwork = None,
    target: Annotated[
        Optional[str], typer.Option(help="Table runs, efficacy: the column to predict \\[default: the last].")
    ] = None,
) -> None:
    """Evaluate on held-out data: negative ELBO and NLL in nats (bits/dim on binary data), every loss, and
    sample quality (Frechet distance, precision/recall, density/coverage, classes) in a feature network."""
    import genmodels
    from genmodels.data import load_data
    from genmodels.errors import ConfigError
    from genmodels.io.files import write_text_atomic
    from genmodels.io.run_directory import claim_output
    from genmodels.io.versions import software_versions
    from genmodels.runs import load_run_spec
    from genmodels.runs.report import evaluate_split

    if split not in ("test", "validation"):
        raise typer.BadParameter(f"--split must be test or validation, got {split!r}")
    spec = load_run_spec(run)
    model = genmodels.load(run)
    if getattr(model, "preprocessor", None) is not None and metrics is not None and metrics != "none":
        _evaluate_table_run(run, spec, model, split, metrics, num_samples, target, output)
        return
    if importance_samples is not None:
        if not hasattr(model.config, "importance_samples"):
            raise typer.BadParameter(f"{type(model).__name__} has no importance-sampled likelihood")
        try:  # replace() checks the value as the config's own field
            model.config = dataclasses.replace(model.config, importance_samples=importance_samples)
        except ConfigError as error:
            raise typer.BadParameter(f"--importance-samples: {error}") from None
    chosen = _chosen_metrics(metrics)
    data = load_data(spec.data)
    results = evaluate_split(model, data, split, chosen, num_samples, feature_network)
    record = {"run": str(run), "spec": spec.to_dict(), "data": data.info, "versions": software_versions(), **results}
    output = output or run / f"evaluation-{split}.json"
    with claim_output(output):
        write_text_atomic(output, json.dumps(record, indent=2) + "\n")
    _print_results(results)
    console.print(f"wrote {output}")


def _chosen_metrics(metrics: str | None) -> list[str] | None:
    """``--metrics`` as a list of known names (None: the default set; "none": no metric)."""
    from genmodels.evaluation.sample_quality import METRICS

    chosen = None if metrics is None else [name.strip() for name in metrics.split(",") if name.strip() != "none"]
    unknown = set(chosen or []) - set(METRICS)
    if unknown:
        raise typer.BadParameter(f"unknown metric(s) {', '.join(sorted(unknown))}; choose from {', '.join(METRICS)}")
    return chosen


def _print_results(results: dict[str, Any]) -> None:
    for name, value in result_rows(results):
        console.print(f"{name}: {value}")


def _evaluate_table_run(
    run: Path,
    spec: Any,
    model: Any,
    split: str,
    metrics: str,
    num_samples: int | None,
    target: str | None,
    output: Path | None,
) -> None:
    """Synthetic rows (as many as the training rows) judged against the run's training rows and ``split``."""
    import torch

    from genmodels.cli.tables import judge_tables, parse_table_metrics
    from genmodels.data.tabular import table_splits
    from genmodels.io.files import write_text_atomic

    chosen = parse_table_metrics(metrics, has_holdout=True)
    frames = table_splits(spec.data)
    if frames[split].empty:
        raise typer.BadParameter(f"the run's {split} split has no rows; efficacy and privacy need held-out rows")
    synthetic = model.sample_table(num_samples or len(frames["train"]), torch.Generator().manual_seed(0))
    results = judge_tables(frames["train"], synthetic, chosen, frames[split], target, run)
    output = output or run / f"evaluation-tables-{split}.json"
    write_text_atomic(output, json.dumps({"run": str(run), "held_out_split": split, **results}, indent=2) + "\n")
    console.print(f"wrote {output}")

"""What the commands print: one console for all of them, and a run's results as a table or as lines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

console = Console()
SETTINGS = {"reference_images", "candidate_images", "nearest_k", "num_classes"}
"""Sample-quality entries that say how it was measured, shown without a real-data value beside them."""


def print_run_report(run_dir: Path, report: dict[str, Any]) -> None:
    """The headline numbers of a finished run's ``report.json``: steps, throughput, test results, pictures."""
    table = Table(title=f"run {run_dir}", show_header=False)
    training = report["training"]
    table.add_row("steps", str(training["steps"]))
    table.add_row("throughput", f"{training['examples_per_second']:.0f} examples/s")
    if "data_wait_share" in training:
        table.add_row("waiting for data", f"{training['data_wait_share']:.0%} of the training time")
    for name, value in result_rows(report["test"]):
        table.add_row(name, value)
    for warning in training.get("warnings", []):
        table.add_row("[yellow]warning[/yellow]", escape(warning))
    for note in report.get("notes", []):
        table.add_row("[yellow]note[/yellow]", escape(note))
    for name, path in report["pictures"].items():
        table.add_row(name, path)
    console.print(table)


def result_rows(results: dict[str, Any]) -> list[tuple[str, str]]:
    """An evaluation's results as (name, value) rows: likelihoods, losses, text figures, sample quality.

    A loss the likelihood already reports (a VAE's ``negative_elbo``) is shown once, with the
    likelihood's bits/dim; what could not be computed reads n/a with the reason.
    """
    split = results["split"]
    likelihood = results.get("likelihood", {})
    rows = [(f"{split} {name}", describe_likelihood(result)) for name, result in likelihood.items()]
    rows += [(f"{split} {name}", f"n/a: {escape(reason)}") for name, reason in results.get("not_available", {}).items()]
    for name, value in {**results.get("losses", {}), **text_summary(results.get("text"))}.items():
        if name not in likelihood:
            rows.append((f"{split} {name}", f"{value:.4f}"))
    if results.get("skipped"):
        rows.append((f"{split} evaluation", "skipped: run `genmodels evaluate` on the run directory"))
    floor = results.get("sample_quality_floor", {})
    for name, value in {**results.get("sample_quality", {}), **results.get("modes", {})}.items():
        if isinstance(value, (int, float)) and name != "seed":
            rows.append((f"samples {name}", with_floor(value, floor.get(name) if name not in SETTINGS else None)))
    return rows


def with_floor(value: float, floor: Any) -> str:
    """A sample-quality number beside the same number for real held-out images, where that is known."""
    real = f"  (real data: {floor:.4g})" if isinstance(floor, (int, float)) else ""
    return f"{value:.4g}{real}"


def text_summary(result: dict[str, Any] | None) -> dict[str, float]:
    """The per-token and per-character figures of a text evaluation (none for other data)."""
    names = ("nats_per_token", "bits_per_character", "perplexity")
    return {name: result[name] for name in names} if result else {}


def describe_likelihood(result: dict[str, Any]) -> str:
    """A likelihood estimate in nats, bits/dim where the data are discrete, with its examples and samples K."""
    bits = f", {result['bits_per_dim']:.4f} bits/dim" if "bits_per_dim" in result else ""
    samples = f", K={result['importance_samples']}" if "importance_samples" in result else ""
    return f"{result['nats']:.3f} nats{bits} ({result['examples']} examples{samples})"

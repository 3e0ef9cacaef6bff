"""``genmodels tables compare``: a synthetic table judged against the real one, wherever it was made."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from genmodels.cli.printing import console

if TYPE_CHECKING:
    import pandas as pd

tables_app = typer.Typer(help="Synthetic tables: judge one against the real table.", no_args_is_help=True)

TableMetrics = Annotated[
    Optional[str],
    typer.Option(
        "--metrics",
        help="Comma-separated: shapes, pairs, detection, efficacy, privacy \\[default: shapes,pairs,detection, "
        "plus efficacy,privacy with --holdout].",
    ),
]
Target = Annotated[Optional[str], typer.Option(help="Efficacy: the column to predict \\[default: the last column].")]


def parse_table_metrics(metrics: str | None, has_holdout: bool) -> list[str]:
    """``--metrics`` as known table metric names, refusing unknown ones by name."""
    from genmodels.evaluation.synthetic_tables import METRICS

    if metrics is None:
        return list(METRICS) if has_holdout else ["shapes", "pairs", "detection"]
    chosen = [name.strip() for name in metrics.split(",") if name.strip()]
    unknown = sorted(set(chosen) - set(METRICS))
    if unknown:
        raise typer.BadParameter(f"unknown table metric(s) {', '.join(unknown)}; choose from {', '.join(METRICS)}")
    return chosen


def judge_tables(
    real: pd.DataFrame,
    synthetic: pd.DataFrame,
    metrics: list[str],
    holdout: pd.DataFrame | None,
    target: str | None,
    pictures: Path,
) -> dict[str, Any]:
    """The metrics, printed, with the marginal and correlation pictures written beside ``pictures``."""
    from genmodels.evaluation.synthetic_tables import compare_tables
    from genmodels.plotting.tables import plot_correlations, plot_marginals

    results = compare_tables(real, synthetic, metrics, holdout=holdout, target=target)
    synthetic = synthetic[list(real.columns)]
    results["pictures"] = [
        str(plot_marginals(real, synthetic, pictures / "marginals.png")),
        str(plot_correlations(real, synthetic, pictures / "correlations.png")),
    ]
    print_table_results(results)
    return results


def print_table_results(results: dict[str, Any]) -> None:
    quality = results.get("quality")
    if quality:
        for name in ("column_shapes", "column_pair_trends", "overall"):
            console.print(f"quality {name}: {quality[name]:.4f}")
    if "detection_auc" in results:
        console.print(f"detection AUC (0.5 is best): {results['detection_auc']:.4f}")
    if "efficacy" in results:
        efficacy = results["efficacy"]
        console.print(
            f"efficacy ({efficacy['metric']} on {efficacy['target']!r}): train on real {efficacy['train_real']:.4f}, "
            f"on synthetic {efficacy['train_synthetic']:.4f}"
        )
    if "privacy" in results:
        privacy = results["privacy"]
        console.print(
            f"privacy: median DCR synthetic {privacy['dcr_synthetic']['q50']:.4f} vs held-out "
            f"{privacy['dcr_holdout']['q50']:.4f}, exact copies {privacy['exact_copy_share']:.2%}, nearest real "
            f"row a training row for {privacy['nearest_is_training_share']:.1%} (chance "
            f"{privacy['nearest_is_training_chance']:.1%}, p = {privacy['p_value']:.3f}), "
            f"{'passes' if privacy['passes'] else 'FLAGGED: synthetic rows sit too close to training rows'}"
        )


@tables_app.command(
    epilog="Examples:\n\n  genmodels tables compare real.csv synthetic.csv\n\n"
    "  genmodels tables compare train.csv synthetic.csv --holdout test.csv --target income -o report.json"
)
def compare(
    real: Annotated[Path, typer.Argument(help="The real table the synthetic one was made from (CSV or Parquet).")],
    synthetic: Annotated[Path, typer.Argument(help="The synthetic table.")],
    holdout: Annotated[
        Optional[Path], typer.Option(help="Real rows the generator never saw: needed for efficacy and privacy.")
    ] = None,
    metrics: TableMetrics = None,
    target: Target = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="JSON report; the pictures go beside it.")] = Path(
        "table-comparison.json"
    ),
) -> None:
    """Judge a synthetic table: column shapes, pair trends, detection, efficacy and privacy, with pictures."""
    from genmodels.data.tabular import read_table
    from genmodels.io.files import write_text_atomic

    chosen = parse_table_metrics(metrics, holdout is not None)
    real_table, synthetic_table = read_table(real), read_table(synthetic)
    holdout_table = read_table(holdout) if holdout is not None else None
    results = judge_tables(real_table, synthetic_table, chosen, holdout_table, target, output.parent)
    record = {"real": str(real), "synthetic": str(synthetic), "holdout": str(holdout) if holdout else None, **results}
    write_text_atomic(output, json.dumps(record, indent=2) + "\n")
    console.print(f"wrote {output}")

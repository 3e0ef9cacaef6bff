"""``genmodels features``: the per-data-set feature networks that sample-quality metrics measure in."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from genmodels.cli.lists import ListOptionsCommand
from genmodels.cli.printing import console

features_app = typer.Typer(
    help="Feature networks: the per-data-set classifiers behind fd_<data>, precision/recall and coverage.",
    no_args_is_help=True,
)


@features_app.command(
    "train",
    cls=ListOptionsCommand,
    epilog="Examples:\n\n  genmodels features train --data mnist5k\n\n"
    "  genmodels features train --data ./my_labelled_images -o features/mine --epochs 30",
)
def train_features(
    data: Annotated[str, typer.Option(help="A labelled image data set: a built-in name or a path.")],
    output: Annotated[
        Optional[Path],
        typer.Option(
            "--output",
            "-o",
            help="Directory \\[default: a folder named after the data in the cache, ~/.cache/genmodels].",
        ),
    ] = None,
    epochs: Annotated[int, typer.Option(help="Training epochs (best validation accuracy is kept).")] = 20,
    seed: Annotated[int, typer.Option(help="Seed for initialisation, batches and augmentation.")] = 0,
    overwrite: Annotated[
        bool, typer.Option(help="Re-train: replace the feature network already in the directory (nothing else).")
    ] = False,
) -> None:
    """Train (or, with --overwrite, re-train) the feature network of an image data set; later evaluations use it."""
    from genmodels.evaluation.feature_network import (
        holds_feature_network,
        train_feature_network,
        user_feature_network_root,
    )
    from genmodels.io.run_directory import claim_run_directory

    if epochs < 1:
        raise typer.BadParameter(f"--epochs must be at least 1, got {epochs}")
    output = output or user_feature_network_root() / Path(data).name
    trained_before = holds_feature_network(output)
    hint = "pass --overwrite to re-train it" if trained_before else "choose another directory"
    with claim_run_directory(output, new=not (overwrite and trained_before), refusal_hint=hint):
        record = train_feature_network(data, output, epochs=epochs, seed=seed)
    console.print(
        f"wrote {output}: test accuracy {record['test_accuracy']:.4f} "
        f"({record['test_accuracy_binarized']:.4f} on binarized test images)"
    )

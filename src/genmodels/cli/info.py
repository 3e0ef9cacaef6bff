"""``genmodels info``: what a saved model is, what it was trained on, and the models it was tuned from."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from genmodels.cli.lists import ListOptionsCommand
from genmodels.cli.printing import console

info_commands = typer.Typer()


@info_commands.command(
    cls=ListOptionsCommand,
    epilog="Examples:\n\n  genmodels info runs/vae-finetuned-mnist5k\n\n  genmodels info RUN --parts",
)
def info(
    run: Annotated[Path, typer.Argument(help="A run directory or a saved model directory.")],
    parts: Annotated[bool, typer.Option(help="Also list the parts that can be frozen.")] = False,
) -> None:
    """What a saved model is, what it was trained on, and its lineage back to the model it was tuned from."""
    from genmodels.transfer.finetuning import locate_model_dir

    directory = locate_model_dir(run)
    table = Table(title=f"model {directory}", show_header=False)
    for depth, (path, saved) in enumerate(_lineage(directory)):
        _add_model_rows(table, "base " * depth, path, saved)
    if parts:
        from genmodels.models.base import GenerativeModel

        model = GenerativeModel.from_pretrained(directory)
        for name, patterns in model.parameter_parts().items():
            table.add_row("part", f"{name}  ({', '.join(patterns)})")
    console.print(table)


def _add_model_rows(table: Table, prefix: str, path: Path, saved: dict[str, Any]) -> None:
    """One model of the lineage: its type, data, steps, frozen parts, and LoRA adapters carried or merged."""
    table.add_row(f"{prefix}model", f"{saved['model_type']} ({path})")
    table.add_row(f"{prefix}data", escape(_describe_data(saved.get("data", {}))))
    if "trained_steps" in saved:
        table.add_row(f"{prefix}steps", str(saved["trained_steps"]))
    if saved.get("frozen"):
        table.add_row(f"{prefix}frozen", ", ".join(saved["frozen"]))
    if "adapter" in saved:
        adapter = saved["adapter"]
        layers = len(adapter["modules"])
        table.add_row(f"{prefix}LoRA", f"rank {adapter['rank']}, alpha {adapter['alpha']}, {layers} layers")
    if "merged_lora" in saved:
        merged = saved["merged_lora"]
        settings = f"rank {merged['rank']}, alpha {merged['alpha']}, {len(merged['modules'])} layers"
        table.add_row(f"{prefix}merged LoRA", f"{settings} ({merged['path']})")


def _lineage(directory: Path) -> list[tuple[Path, dict[str, Any]]]:
    """This model's saved config, then its base's, and so on (a missing base ends the chain, noted)."""
    from genmodels.models.saving import read_config

    chain, seen = [], set()
    while directory is not None and str(directory) not in seen:
        seen.add(str(directory))
        saved = read_config(directory)
        chain.append((directory, saved))
        base = saved.get("finetuned_from") or saved.get("adapter", {}).get("base_model")
        if not base:
            break
        directory = Path(base["path"])
        if not directory.is_dir():
            chain.append((directory, {"model_type": "missing", "data": {"source": "base directory not found"}}))
            break
    return chain


def _describe_data(info: dict[str, Any]) -> str:
    spec = info.get("spec", {})
    selected = [
        f"{key}={json.dumps(spec[key])}" for key in ("classes", "train_fraction") if spec.get(key) not in (None, 1.0)
    ]
    sizes = info.get("sizes")
    return " ".join([str(info.get("source", "?")), *selected, f"sizes {sizes}" if sizes else ""]).strip()

"""``genmodels finetune`` (start from a saved model, tune it on new data) and ``genmodels info`` (a model's lineage)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.table import Table

console = Console()

FINETUNE_EPILOG = (
    "Examples:\n\n"
    "  genmodels finetune runs/vae-mnist5k --data mnist5k --set data.classes=[5,6,7,8,9] --freeze encoder\n\n"
    "  genmodels finetune runs/gpt-shakespeare --data my_play.txt --freeze-first 2 --gradual-unfreeze blocks.2\n\n"
    "  genmodels finetune runs/gpt-shakespeare --data my_play.txt --lora-rank 8   (saves only the adapters)\n\n"
    "Parts to freeze: every top-level module of the model, each block of a block stack (blocks.0, ...),\n"
    "and family names: encoder (VAEs), embeddings and attention (GPT), embeddings and lstm.N (CharRNN);\n"
    "`genmodels info RUN --parts` lists them for a saved model."
)


def finetune(
    base: Annotated[Path, typer.Argument(help="The base: a run directory or a saved model directory.")],
    data: Annotated[str, typer.Option(help="The new data: a data set name or a path.")],
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Run directory [default: runs/...].")] = None,
    set_: Annotated[
        Optional[list[str]],
        typer.Option("--set", help="Override one setting: data.train_fraction=0.1, trainer.warmup_steps=50."),
    ] = None,
    freeze: Annotated[Optional[list[str]], typer.Option(help="A part kept fixed (repeatable).")] = None,
    freeze_first: Annotated[int, typer.Option(help="Freeze the first N blocks of the block stack.")] = 0,
    gradual_unfreeze: Annotated[
        Optional[list[str]], typer.Option(help="A part that starts fixed and joins later, in order (repeatable).")
    ] = None,
    unfreeze_every: Annotated[Optional[int], typer.Option(help="Steps between two parts joining.")] = None,
    unfrozen_lr_ratio: Annotated[
        Optional[float], typer.Option(help="Learning rate of gradually unfrozen parts, as a fraction.")
    ] = None,
    lora_rank: Annotated[int, typer.Option(help="Above 0: train LoRA adapters of this rank only.")] = 0,
    lora_alpha: Annotated[float, typer.Option(help="LoRA scaling numerator (update scale alpha / rank).")] = 16.0,
    lora_target: Annotated[
        Optional[list[str]], typer.Option(help="Module-name pattern LoRA adapts (repeatable) [default: family's].")
    ] = None,
    max_steps: Annotated[Optional[int], typer.Option(help="Training steps.")] = None,
    max_seconds: Annotated[Optional[float], typer.Option(help="Also stop after this many seconds.")] = None,
    batch_size: Annotated[Optional[int], typer.Option(help="Batch size per device.")] = None,
    lr: Annotated[Optional[float], typer.Option("--lr", help="Learning rate.")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Seed for re-initialised layers, batches and noise.")] = None,
    val_every: Annotated[Optional[int], typer.Option(help="Validate every N steps.")] = None,
    resume: Annotated[bool, typer.Option(help="Continue the run in --output from its last checkpoint.")] = False,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Fine-tune a saved model on new data: freeze parts, unfreeze gradually, or train LoRA adapters only."""
    from genmodels.cli.main import _parse_assignments, _print_report, _set_trainer_flags
    from genmodels.runs import default_run_dir, finetune_spec, train_run

    sections = _parse_assignments(set_ or [])
    flags = {
        "freeze": freeze,
        "gradual_unfreeze": gradual_unfreeze,
        "unfreeze_every": unfreeze_every,
        "unfrozen_lr_ratio": unfrozen_lr_ratio,
        "max_steps": max_steps,
        "max_seconds": max_seconds,
        "batch_size": batch_size,
        "learning_rate": lr,
        "seed": seed,
        "val_every": val_every,
    }
    _set_trainer_flags(sections, flags, progress)
    lora = {"rank": lora_rank, "alpha": lora_alpha, "targets": lora_target} if lora_rank > 0 else None
    spec = finetune_spec(
        base, {**sections["data"], "name": data}, sections["model"], sections["trainer"], lora, freeze_first
    )
    run_dir = output or default_run_dir(f"{spec.model}-finetuned", data)
    outcome = train_run(spec, run_dir, resume=resume)
    if outcome is not None:
        _print_report(outcome.run_dir, outcome.report)


def info(
    run: Annotated[Path, typer.Argument(help="A run directory or a saved model directory.")],
    parts: Annotated[bool, typer.Option(help="Also list the parts that can be frozen.")] = False,
) -> None:
    """What a saved model is, what it was trained on, and its lineage back to the model it was tuned from."""
    from genmodels.transfer.finetuning import locate_model_dir

    directory = locate_model_dir(run)
    table = Table(title=f"model {directory}", show_header=False)
    for depth, (path, saved) in enumerate(_lineage(directory)):
        prefix = "base " * depth
        table.add_row(f"{prefix}model", f"{saved['model_type']} ({path})")
        table.add_row(f"{prefix}data", _describe_data(saved.get("data", {})))
        if "trained_steps" in saved:
            table.add_row(f"{prefix}steps", str(saved["trained_steps"]))
        if saved.get("frozen"):
            table.add_row(f"{prefix}frozen", ", ".join(saved["frozen"]))
        if "adapter" in saved:
            adapter = saved["adapter"]
            layers = len(adapter["modules"])
            table.add_row(f"{prefix}LoRA", f"rank {adapter['rank']}, alpha {adapter['alpha']}, {layers} layers")
    if parts:
        from genmodels.models.base import GenerativeModel

        model = GenerativeModel.from_pretrained(directory)
        for name, patterns in model.parameter_parts().items():
            table.add_row("part", f"{name}  ({', '.join(patterns)})")
    console.print(table)


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

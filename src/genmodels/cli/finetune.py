"""``genmodels finetune`` (start from a saved model, tune it on new data) and ``genmodels merge-lora``.

A LoRA fine-tune saves only its adapters, and loading it needs its base model's directory;
``merge-lora`` folds the adapters into the base weights and saves a plain model that stands alone
and can be fine-tuned again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from genmodels.cli.lists import ListOptionsCommand
from genmodels.cli.printing import console, print_run_report
from genmodels.cli.settings import parse_assignments, trainer_settings
from genmodels.cli.train import NoProgress, Resume

finetune_commands = typer.Typer()

FINETUNE_EPILOG = (
    "Examples:\n\n"
    "  genmodels finetune runs/vae-mnist5k --data mnist5k --set data.classes=[5,6,7,8,9] --freeze encoder\n\n"
    "  genmodels finetune runs/gpt-shakespeare --data my_play.txt --freeze-first 2 --gradual-unfreeze blocks.2\n\n"
    "  genmodels finetune runs/gpt-shakespeare --data my_play.txt --lora-rank 8 -o runs/lora   (saves only the "
    "adapters)\n\n"
    "  genmodels merge-lora runs/lora -o models/gpt-my-play   (a plain model, adapters folded in)\n\n"
    "Parts to freeze: every top-level module of the model, each block of a block stack (blocks.0, ...),\n"
    "and family names: encoder (VAEs), embeddings and attention (GPT), embeddings and lstm.N (CharRNN);\n"
    "`genmodels info RUN --parts` lists them for a saved model."
)
FORMAT_KEYS = ("model_type", "config", "weights_sha256", "adapter", "extra_files_sha256", "versions")
"""The entries of ``config.json`` that ``save_pretrained`` writes itself; the rest is the model's provenance."""

RunDirectory = Annotated[Optional[Path], typer.Option("--output", "-o", help="Run directory \\[default: runs/...].")]
Assignments = Annotated[
    Optional[list[str]],
    typer.Option("--set", help="Override one setting, e.g. trainer.seed=1 (repeatable)."),
]
GradualUnfreeze = Annotated[
    Optional[list[str]], typer.Option(help="A part that starts fixed and joins later, in order (one or more).")
]
UnfrozenLearningRate = Annotated[
    Optional[float], typer.Option(help="Learning rate of gradually unfrozen parts, as a fraction.")
]
LoraRank = Annotated[
    int,
    typer.Option(
        help="Above 0: train LoRA adapters of this rank only; the run saves only them "
        "(`genmodels merge-lora RUN -o OUT` folds them into a plain model)."
    ),
]
LoraTargets = Annotated[
    Optional[list[str]], typer.Option(help="Module-name pattern LoRA adapts (one or more) \\[default: family's].")
]


@finetune_commands.command(cls=ListOptionsCommand, epilog=FINETUNE_EPILOG)
def finetune(
    ctx: typer.Context,
    base: Annotated[Path, typer.Argument(help="The base: a run directory or a saved model directory.")],
    data: Annotated[str, typer.Option(help="The new data: a data set name or a path.")],
    output: RunDirectory = None,
    set_: Assignments = None,
    freeze: Annotated[Optional[list[str]], typer.Option(help="A part kept fixed (one or more).")] = None,
    freeze_first: Annotated[int, typer.Option(help="Freeze the first N blocks of the block stack.")] = 0,
    gradual_unfreeze: GradualUnfreeze = None,
    unfreeze_every: Annotated[Optional[int], typer.Option(help="Steps between two parts joining.")] = None,
    unfrozen_lr_ratio: UnfrozenLearningRate = None,
    lora_rank: LoraRank = 0,
    lora_alpha: Annotated[float, typer.Option(help="LoRA scaling numerator (update scale alpha / rank).")] = 16.0,
    lora_target: LoraTargets = None,
    max_steps: Annotated[Optional[int], typer.Option(help="Training steps.")] = None,
    max_seconds: Annotated[Optional[float], typer.Option(help="Also stop after this many seconds.")] = None,
    batch_size: Annotated[Optional[int], typer.Option(help="Batch size per device.")] = None,
    lr: Annotated[Optional[float], typer.Option("--lr", help="Learning rate.")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Seed for re-initialised layers, batches and noise.")] = None,
    val_every: Annotated[Optional[int], typer.Option(help="Validate every N steps.")] = None,
    resume: Resume = False,
    no_progress: NoProgress = False,
) -> None:
    """Fine-tune a saved model on new data: freeze parts, unfreeze gradually, or train LoRA adapters only."""
    from genmodels.runs import default_run_dir, finetune_spec, train_run

    sections = parse_assignments(set_ or [])
    sections["trainer"].update(trainer_settings(ctx.params))
    lora = {"rank": lora_rank, "alpha": lora_alpha, "targets": lora_target} if lora_rank > 0 else None
    spec = finetune_spec(
        base, {**sections["data"], "name": data}, sections["model"], sections["trainer"], lora, freeze_first
    )
    outcome = train_run(spec, output or default_run_dir(f"{spec.model}-finetuned", data), resume=resume)
    if outcome is not None:
        print_run_report(outcome.run_dir, outcome.report)


@finetune_commands.command(
    "merge-lora",
    cls=ListOptionsCommand,
    epilog="Examples:\n\n  genmodels merge-lora runs/gpt-finetuned-my_play -o models/gpt-my-play\n\n"
    "  genmodels finetune models/gpt-my-play --data more_lines.txt --lora-rank 8   (tune the merged model again)",
)
def merge_lora_adapters(
    run: Annotated[Path, typer.Argument(help="A run or model directory of a LoRA fine-tune (its adapters).")],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="New directory for the merged model (an existing one is refused).")
    ],
) -> None:
    """Fold a LoRA fine-tune's adapters into its base weights and save a plain model in a new directory.

    The merged model computes what the adapted one does, loads without the base directory, and can
    be fine-tuned again; its config.json keeps the lineage and names the adapters it came from.
    """
    from genmodels.io.run_directory import claim_run_directory
    from genmodels.models.base import GenerativeModel
    from genmodels.models.saving import read_config
    from genmodels.nn.lora import merge_lora
    from genmodels.transfer.finetuning import locate_model_dir

    if output.exists():
        raise FileExistsError(f"{output} already exists; name a new directory for the merged model")
    directory = locate_model_dir(run)
    saved = read_config(directory)
    if "adapter" not in saved:
        raise typer.BadParameter(f"{directory} holds a plain {saved['model_type']} model, no LoRA adapters to merge")
    with claim_run_directory(output, refusal_hint="name a new directory for the merged model"):
        model = merge_lora(GenerativeModel.from_pretrained(directory))
        adapter = saved["adapter"]
        merged_from = {"path": str(directory.resolve()), "adapter_sha256": saved["weights_sha256"]}
        merged_from.update({key: adapter[key] for key in ("rank", "alpha", "modules")})
        provenance = {key: value for key, value in saved.items() if key not in FORMAT_KEYS}
        model.save_pretrained(output, **provenance, merged_lora=merged_from)
    console.print(f"merged {len(adapter['modules'])} LoRA layers into a plain {saved['model_type']} -> {output}")

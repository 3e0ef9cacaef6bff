"""``genmodels train`` (one model on one data set, into a run directory) and ``genmodels demo`` (two such runs)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from genmodels.cli.lists import ListOptionsCommand
from genmodels.cli.printing import console, print_run_report
from genmodels.cli.settings import read_sections, trainer_settings

train_commands = typer.Typer()

RunDirectory = Annotated[
    Optional[Path],
    typer.Option(
        "--output",
        "-o",
        help="Run directory \\[default: runs/MODEL-DATA; the name also says conditional, and the objective "
        "when it is not the default].",
    ),
]
ConfigFile = Annotated[
    Optional[Path], typer.Option(help="TOML or JSON file with \\[model], \\[data], \\[trainer] sections.")
]
Assignments = Annotated[
    Optional[list[str]],
    typer.Option("--set", help="Override one setting, e.g. model.beta=4 or trainer.seed=1 (repeatable)."),
]
Binarize = Annotated[bool, typer.Option("--binarize", help="Binarize pixels (default: as the model recommends).")]
KeepGreyLevels = Annotated[bool, typer.Option("--no-binarize", help="Keep grey levels (default: as the model says).")]
Resume = Annotated[bool, typer.Option("--resume", help="Continue the run in --output from its last checkpoint.")]
NoProgress = Annotated[bool, typer.Option("--no-progress", help="Hide the progress bar.")]
MaxSeconds = Annotated[
    Optional[float],
    typer.Option(help="Also stop after this many seconds of training (resumes added up); a decaying rate ends then."),
]
Patience = Annotated[Optional[int], typer.Option(help="Stop after N validations without improvement.")]
Quick = Annotated[
    bool,
    typer.Option(
        "--quick",
        help="A first try: at most 30 s of training (unless --max-seconds is given) and --final-eval quick.",
    ),
]
FinalEval = Annotated[
    Optional[str],
    typer.Option(
        help="End-of-run evaluation: full (every held-out example, the model's K importance samples), quick "
        "(500 examples, K=50, 500 samples) or none (pictures only; `genmodels evaluate` later) "
        "\\[default: full; quick with --quick]."
    ),
]


@train_commands.command(
    cls=ListOptionsCommand,
    epilog=(
        "Examples:\n\n"
        "  genmodels train vae --data digits\n\n"
        "  genmodels train conv-vae --data mnist5k --quick           (a first try: 30 s of training)\n\n"
        "  genmodels train gan --data mnist5k --max-steps 5000 -o runs/gan-mnist\n\n"
        "  genmodels train vae --data ./my_images --set data.image_size=32 --set model.latent_dim=16\n\n"
        "  genmodels train vae --data digits --devices 2 --strategy ddp   (two CPU processes, gloo)\n\n"
        "  genmodels train vae --data digits -o runs/v --resume           (continue a stopped run)"
    ),
)
def train(
    ctx: typer.Context,
    model: Annotated[str, typer.Argument(help="Registered model name (see `genmodels models`).")],
    data: Annotated[Optional[str], typer.Option(help="Data set name (see `genmodels datasets`) or a path.")] = None,
    output: RunDirectory = None,
    config: ConfigFile = None,
    set_: Assignments = None,
    binarize: Binarize = False,
    no_binarize: KeepGreyLevels = False,
    max_steps: Annotated[Optional[int], typer.Option(help="Training steps.")] = None,
    max_seconds: MaxSeconds = None,
    batch_size: Annotated[Optional[int], typer.Option(help="Batch size per device.")] = None,
    lr: Annotated[Optional[float], typer.Option("--lr", help="Learning rate.")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Seed for the initial weights, batches and noise.")] = None,
    accelerator: Annotated[Optional[str], typer.Option(help="cpu, cuda, mps or auto.")] = None,
    devices: Annotated[Optional[str], typer.Option(help="Number of devices (processes), or 'auto'.")] = None,
    strategy: Annotated[Optional[str], typer.Option(help="auto, ddp, fsdp, ... (Lightning Fabric strategies).")] = None,
    precision: Annotated[Optional[str], typer.Option(help="32-true, bf16-mixed, 16-mixed.")] = None,
    num_nodes: Annotated[Optional[int], typer.Option(help="Nodes, for multi-node runs under torchrun.")] = None,
    val_every: Annotated[Optional[int], typer.Option(help="Validate every N steps.")] = None,
    checkpoint_every: Annotated[Optional[int], typer.Option(help="Checkpoint every N steps.")] = None,
    gradient_clip_norm: Annotated[Optional[float], typer.Option(help="Clip the gradient norm to this value.")] = None,
    lr_schedule: Annotated[Optional[str], typer.Option(help="constant, cosine or linear.")] = None,
    early_stopping_patience: Patience = None,
    resume: Resume = False,
    no_progress: NoProgress = False,
    quick: Quick = False,
    final_eval: FinalEval = None,
) -> None:
    """Train a model and write a run directory: config, logs, checkpoints, final model, samples, plots and a report."""
    from genmodels.runs import FINAL_EVALUATIONS, QUICK_TRAINING, default_run_dir, make_spec, run_name, train_run

    if final_eval is not None and final_eval not in FINAL_EVALUATIONS:
        raise typer.BadParameter(f"--final-eval must be one of {', '.join(FINAL_EVALUATIONS)}, got {final_eval!r}")

    sections = read_sections(config, set_)
    sections["trainer"].update(trainer_settings(ctx.params))
    if quick:
        sections["trainer"] = {**QUICK_TRAINING, **sections["trainer"]}
    if data is not None:
        sections["data"]["name"] = data
    if binarize and no_binarize:
        raise typer.BadParameter("give --binarize or --no-binarize, not both")
    if binarize or no_binarize:
        sections["data"]["binarize"] = binarize
    if "name" not in sections["data"]:
        raise typer.BadParameter("name the training data with --data (see `genmodels datasets`)")
    spec = make_spec(model, sections["data"], sections["model"], sections["trainer"])
    run_dir = output or default_run_dir(run_name(spec), sections["data"]["name"])
    outcome = train_run(spec, run_dir, resume=resume, final_eval=final_eval or ("quick" if quick else "full"))
    if outcome is not None:
        print_run_report(outcome.run_dir, outcome.report)


@train_commands.command(
    cls=ListOptionsCommand, epilog="Examples:\n\n  genmodels demo\n\n  genmodels demo -o demo-output --steps 3000"
)
def demo(
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for the two runs.")] = Path("demo-output"),
    steps: Annotated[int, typer.Option(help="Training steps per model.")] = 10000,
) -> None:
    """Train the digits VAE (2-D latent) and the digits GAN; write sample grids, latent map and curves."""
    from genmodels.runs import default_run_dir, make_spec, train_run

    trainer = {"max_steps": steps, "val_every": max(1, steps // 10), "checkpoint_every": max(1, steps // 3)}
    for model in ("vae", "gan"):
        run_dir = default_run_dir(model, "digits", root=output)
        console.rule(f"{model} on digits -> {run_dir}")
        outcome = train_run(make_spec(model, {"name": "digits"}, trainer=trainer), run_dir)
        assert outcome is not None
        print_run_report(run_dir, outcome.report)

"""The ``genmodels`` command line: train, sample, evaluate, list data sets and models, run the demo."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import numpy as np
import torch
import typer
from rich.console import Console
from rich.table import Table

from genmodels.cli.detect import detect_app
from genmodels.cli.ensemble import ensemble_app
from genmodels.cli.finetune import FINETUNE_EPILOG, finetune, info
from genmodels.cli.molecules import molecules_app

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

app = typer.Typer(
    help="Generative models behind one interface: train, sample and evaluate from the command line.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
console = Console()


def _parse_assignments(assignments: list[str]) -> dict[str, dict[str, Any]]:
    """``section.key=value`` pairs (value parsed as JSON where it can be) into nested sections."""
    sections: dict[str, dict[str, Any]] = {"model": {}, "data": {}, "trainer": {}}
    for assignment in assignments:
        key, separator, raw = assignment.partition("=")
        section, dot, name = key.partition(".")
        if not separator or not dot or section not in sections:
            raise typer.BadParameter(
                f"{assignment!r}: expected model.NAME=VALUE, data.NAME=VALUE or trainer.NAME=VALUE"
            )
        try:
            sections[section][name] = json.loads(raw)
        except json.JSONDecodeError:
            sections[section][name] = raw
    return sections


def _set_trainer_flags(sections: dict[str, dict[str, Any]], flags: dict[str, Any], progress: bool) -> None:
    """Command-line trainer options the user gave (not None) override the config file and --set."""
    sections["trainer"].update({name: value for name, value in flags.items() if value is not None})
    if not progress:
        sections["trainer"]["progress_bar"] = False


def _read_config_file(path: Path | None) -> dict[str, dict[str, Any]]:
    if path is None:
        return {"model": {}, "data": {}, "trainer": {}}
    text = path.read_text(encoding="utf-8")
    values = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    unknown = set(values) - {"model", "data", "trainer"}
    if unknown:
        raise typer.BadParameter(f"{path}: unknown section(s) {sorted(unknown)}; use model, data and trainer")
    return {section: dict(values.get(section, {})) for section in ("model", "data", "trainer")}


@app.command(
    epilog=(
        "Examples:\n\n"
        "  genmodels train vae --data digits\n\n"
        "  genmodels train gan --data mnist5k --max-steps 5000 -o runs/gan-mnist\n\n"
        "  genmodels train vae --data ./my_images --set data.image_size=32 --set model.latent_dim=16\n\n"
        "  genmodels train vae --data digits --devices 2 --strategy ddp   (two CPU processes, gloo)\n\n"
        "  genmodels train vae --data digits -o runs/v --resume           (continue a stopped run)"
    )
)
def train(
    model: Annotated[str, typer.Argument(help="Registered model name (see `genmodels models`).")],
    data: Annotated[Optional[str], typer.Option(help="Data set name (see `genmodels datasets`) or a path.")] = None,
    output: Annotated[
        Optional[Path], typer.Option("--output", "-o", help="Run directory [default: runs/MODEL-DATA].")
    ] = None,
    config: Annotated[
        Optional[Path], typer.Option(help="TOML or JSON file with [model], [data], [trainer] sections.")
    ] = None,
    set_: Annotated[
        Optional[list[str]],
        typer.Option("--set", help="Override one setting: model.latent_dim=16, trainer.lr_schedule=cosine."),
    ] = None,
    binarize: Annotated[
        Optional[bool],
        typer.Option("--binarize/--no-binarize", help="Binarize pixels (default: the model's recommendation)."),
    ] = None,
    max_steps: Annotated[Optional[int], typer.Option(help="Training steps.")] = None,
    max_seconds: Annotated[
        Optional[float],
        typer.Option(
            help="Also stop after this many seconds of training (resumes added up); a decaying rate ends then."
        ),
    ] = None,
    batch_size: Annotated[Optional[int], typer.Option(help="Batch size per device.")] = None,
    lr: Annotated[Optional[float], typer.Option("--lr", help="Learning rate.")] = None,
    seed: Annotated[Optional[int], typer.Option(help="Seed for initialisation, batches and noise.")] = None,
    accelerator: Annotated[Optional[str], typer.Option(help="cpu, cuda, mps or auto.")] = None,
    devices: Annotated[Optional[str], typer.Option(help="Number of devices (processes), or 'auto'.")] = None,
    strategy: Annotated[Optional[str], typer.Option(help="auto, ddp, fsdp, ... (Lightning Fabric strategies).")] = None,
    precision: Annotated[Optional[str], typer.Option(help="32-true, bf16-mixed, 16-mixed.")] = None,
    num_nodes: Annotated[Optional[int], typer.Option(help="Nodes, for multi-node runs under torchrun.")] = None,
    val_every: Annotated[Optional[int], typer.Option(help="Validate every N steps.")] = None,
    checkpoint_every: Annotated[Optional[int], typer.Option(help="Checkpoint every N steps.")] = None,
    gradient_clip_norm: Annotated[Optional[float], typer.Option(help="Clip the gradient norm to this value.")] = None,
    lr_schedule: Annotated[Optional[str], typer.Option(help="constant, cosine or linear.")] = None,
    early_stopping_patience: Annotated[
        Optional[int], typer.Option(help="Stop after N validations without improvement.")
    ] = None,
    resume: Annotated[bool, typer.Option(help="Continue the run in --output from its last checkpoint.")] = False,
    progress: Annotated[bool, typer.Option(help="Show a progress bar.")] = True,
) -> None:
    """Train a model and write a run directory: config, logs, checkpoints, final model, samples, plots and a report."""
    from genmodels.runs import default_run_dir, make_spec, train_run

    sections = _read_config_file(config)
    for section, values in _parse_assignments(set_ or []).items():
        sections[section].update(values)
    flags = {
        "max_steps": max_steps,
        "max_seconds": max_seconds,
        "batch_size": batch_size,
        "learning_rate": lr,
        "seed": seed,
        "accelerator": accelerator,
        "devices": int(devices) if devices and devices.isdigit() else devices,
        "strategy": strategy,
        "precision": precision,
        "num_nodes": num_nodes,
        "val_every": val_every,
        "checkpoint_every": checkpoint_every,
        "gradient_clip_norm": gradient_clip_norm,
        "lr_schedule": lr_schedule,
        "early_stopping_patience": early_stopping_patience,
    }
    _set_trainer_flags(sections, flags, progress)
    if data is not None:
        sections["data"]["name"] = data
    if binarize is not None:
        sections["data"]["binarize"] = binarize
    if "name" not in sections["data"]:
        raise typer.BadParameter("name the training data with --data (see `genmodels datasets`)")
    spec = make_spec(model, sections["data"], sections["model"], sections["trainer"])
    run_dir = output or default_run_dir(model, sections["data"]["name"])
    outcome = train_run(spec, run_dir, resume=resume)
    if outcome is not None:
        _print_report(outcome.run_dir, outcome.report)


def _print_report(run_dir: Path, report: dict[str, Any]) -> None:
    table = Table(title=f"run {run_dir}", show_header=False)
    training = report["training"]
    table.add_row("steps", str(training["steps"]))
    table.add_row("throughput", f"{training['examples_per_second']:.0f} examples/s")
    test = report["test"]
    for name, result in test.get("likelihood", {}).items():
        table.add_row(f"test {name}", _describe_likelihood(result))
    for name, value in {**test.get("losses", {}), **_text_summary(test.get("text"))}.items():
        table.add_row(f"{test['split']} {name}", f"{value:.4f}")
    for name, value in {**test.get("sample_quality", {}), **test.get("modes", {})}.items():
        if isinstance(value, (int, float)) and name != "seed":
            table.add_row(f"samples {name}", f"{value:.4g}")
    for warning in training.get("warnings", []):
        table.add_row("[yellow]warning[/yellow]", warning)
    for name, path in report["pictures"].items():
        table.add_row(name, path)
    console.print(table)


def _text_summary(result: dict[str, Any] | None) -> dict[str, float]:
    names = ("nats_per_token", "bits_per_character", "perplexity")
    return {name: result[name] for name in names} if result else {}


def _describe_likelihood(result: dict[str, Any]) -> str:
    bits = f", {result['bits_per_dim']:.4f} bits/dim" if "bits_per_dim" in result else ""
    samples = f", K={result['importance_samples']}" if "importance_samples" in result else ""
    return f"{result['nats']:.3f} nats{bits} ({result['examples']} examples{samples})"


@app.command(
    epilog="Examples:\n\n  genmodels sample runs/vae-digits -n 64 -o samples.png\n\n"
    "  genmodels sample runs/gan-digits -n 1000 --format npy -o samples.npy --seed 3\n\n"
    "  genmodels sample runs/dcgan-mnist5k --label 7 --truncation 0.7 -o sevens.png   (conditional GAN)"
)
def sample(
    run: Annotated[Path, typer.Argument(help="Run directory or saved model directory.")],
    n: Annotated[int, typer.Option("-n", help="Number of samples.")] = 64,
    output: Annotated[Path, typer.Option("--output", "-o", help="Output file.")] = Path("samples.png"),
    output_format: Annotated[
        str,
        typer.Option(
            "--format",
            help="png (a grid image; text models write .txt) or npy (an array (n, *data_shape): images in [0, 1], "
            "token ids for text).",
        ),
    ] = "png",
    seed: Annotated[int, typer.Option(help="Sampling seed: the same seed gives the same samples.")] = 0,
    label: Annotated[Optional[int], typer.Option(help="Class of every sample (conditional models).")] = None,
    truncation: Annotated[
        Optional[float], typer.Option(help="Truncate the GAN's latent normal to [-t, t]: fidelity over variety.")
    ] = None,
    strategy: Annotated[Optional[str], typer.Option(help="Ensembles: mixture, vote or rejection.")] = None,
    candidates: Annotated[Optional[int], typer.Option(help="Ensembles with vote: candidates per member.")] = None,
) -> None:
    """Draw samples from a trained model, as a grid picture or an array."""
    import genmodels
    from genmodels.plotting import save_image_grid

    if output_format not in ("png", "npy"):
        raise typer.BadParameter(f"--format must be png or npy, got {output_format!r}")
    model = genmodels.load(run)
    controls: dict[str, Any] = {}
    if label is not None:
        controls["labels"] = label
    if truncation is not None:
        controls["truncation"] = truncation
    if strategy is not None:
        controls["strategy"] = strategy
    if candidates is not None:
        controls["candidates"] = candidates
    images = model.sample(n, generator=torch.Generator().manual_seed(seed), **controls)
    if getattr(model, "tokenizer", None) is not None and output_format == "png":
        output = output.with_suffix(".txt")
        texts = [model.tokenizer.decode(row.tolist()) for row in images]
        output.write_text("\n\n----------\n\n".join(texts) + "\n", encoding="utf-8")
    elif output_format == "npy":
        np.save(output, images.cpu().numpy())
    else:
        save_image_grid(images, output)
    console.print(f"wrote {n} samples to {output}")


@app.command(
    epilog="Examples:\n\n  genmodels evaluate runs/vae-digits\n\n"
    "  genmodels evaluate runs/vae-mnist5k --split validation -o val.json\n\n"
    "  genmodels evaluate runs/dcgan-mnist5k --metrics fd,prd,coverage --num-samples 2000"
)
def evaluate(
    run: Annotated[Path, typer.Argument(help="Run directory (its data spec is reused).")],
    split: Annotated[str, typer.Option(help="test or validation.")] = "test",
    output: Annotated[
        Optional[Path], typer.Option("--output", "-o", help="JSON file [default: RUN/evaluation-SPLIT.json].")
    ] = None,
    importance_samples: Annotated[
        Optional[int],
        typer.Option(help="Importance samples K of the likelihood estimate (VAEs) [default: the model's]."),
    ] = None,
    metrics: Annotated[
        Optional[str],
        typer.Option(
            help="Sample-quality metrics, comma-separated: fd, prd (precision/recall), coverage (density/coverage), "
            "classes; or none [default: all, where the data set has a feature network]."
        ),
    ] = None,
    num_samples: Annotated[
        Optional[int], typer.Option(help="Samples for the sample-quality metrics [default: validation + test size].")
    ] = None,
    feature_network: Annotated[
        Optional[str], typer.Option(help="Feature network: a data set name or a directory [default: the run's data].")
    ] = None,
) -> None:
    """Evaluate on held-out data: negative ELBO and NLL in nats (bits/dim on binary data), every loss, and
    sample quality (Frechet distance, precision/recall, density/coverage, classes) in a feature network."""
    import genmodels
    from genmodels.data import load_data
    from genmodels.evaluation.sample_quality import METRICS
    from genmodels.io.files import write_text_atomic
    from genmodels.io.versions import software_versions
    from genmodels.runs import load_run_spec
    from genmodels.runs.report import evaluate_split

    if split not in ("test", "validation"):
        raise typer.BadParameter(f"--split must be test or validation, got {split!r}")
    spec = load_run_spec(run)
    model = genmodels.load(run)
    if importance_samples is not None:
        if not hasattr(model.config, "importance_samples"):
            raise typer.BadParameter(f"{type(model).__name__} has no importance-sampled likelihood")
        model.config.importance_samples = importance_samples
    chosen = None if metrics is None else [name.strip() for name in metrics.split(",") if name.strip() != "none"]
    unknown = set(chosen or []) - set(METRICS)
    if unknown:
        raise typer.BadParameter(f"unknown metric(s) {', '.join(sorted(unknown))}; choose from {', '.join(METRICS)}")
    data = load_data(spec.data)
    results = evaluate_split(model, data, split, chosen, num_samples, feature_network)
    record = {"run": str(run), "spec": spec.to_dict(), "data": data.info, "versions": software_versions(), **results}
    output = output or run / f"evaluation-{split}.json"
    write_text_atomic(output, json.dumps(record, indent=2) + "\n")
    for name, result in results.get("likelihood", {}).items():
        console.print(f"{split} {name}: {_describe_likelihood(result)}")
    for name, value in {**results.get("losses", {}), **_text_summary(results.get("text"))}.items():
        console.print(f"{split} {name}: {value:.4f}")
    for name, value in {**results.get("sample_quality", {}), **results.get("modes", {})}.items():
        if isinstance(value, (int, float)):
            console.print(f"samples {name}: {value:.4g}")
    console.print(f"wrote {output}")


@app.command(
    epilog='Examples:\n\n  genmodels generate runs/gpt-shakespeare --prompt "ROMEO:" --max-new-tokens 500 '
    "--temperature 0.8 --top-p 0.95\n\n"
    "  genmodels generate runs/gpt-shakespeare --prompt \"JULIET:\" --num-samples 4 --stop $'\\n\\n' -o lines.txt"
)
def generate(
    run: Annotated[Path, typer.Argument(help="Run directory or saved model directory of a sequence model.")],
    prompt: Annotated[str, typer.Option(help="Text to continue [default: a line break].")] = "",
    max_new_tokens: Annotated[int, typer.Option(help="Most tokens to generate per sample.")] = 200,
    temperature: Annotated[float, typer.Option(help="Below 1: safer, above 1: wilder; 0: always the likeliest.")] = 1.0,
    top_k: Annotated[Optional[int], typer.Option(help="Sample only from the k likeliest tokens.")] = None,
    top_p: Annotated[
        Optional[float], typer.Option(help="Sample only from the likeliest tokens whose mass is p.")
    ] = None,
    stop: Annotated[
        Optional[list[str]], typer.Option(help="End a sample at this text (repeatable; not included).")
    ] = None,
    seed: Annotated[Optional[int], typer.Option(help="Sampling seed: the same seed gives the same text.")] = None,
    num_samples: Annotated[int, typer.Option(help="Samples, generated together in one batch.")] = 1,
    cache: Annotated[bool, typer.Option(help="Reuse attention keys/values (one step per token).")] = True,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Also write the samples here.")] = None,
) -> None:
    """Generate text from a prompt, streaming a single sample to the terminal as it is produced."""
    import genmodels
    from genmodels.io.files import write_text_atomic
    from genmodels.models.autoregressive.sequence import SequenceModel

    model = genmodels.load(run)
    if not isinstance(model, SequenceModel):
        raise typer.BadParameter(
            f"{run} holds a {model.model_type!r} model; generate needs a sequence model (gpt, ...)"
        )
    stream = num_samples == 1

    def show(text: str) -> None:
        sys.stdout.write(text)
        sys.stdout.flush()

    if stream:
        show(prompt)
    texts = model.generate_batch(
        prompt,
        max_new_tokens,
        num_samples=num_samples,
        temperature=temperature,
        top_k=top_k,
        top_p=top_p,
        stop=stop or (),
        seed=seed,
        use_cache=cache,
        on_text=show if stream else None,
    )
    if stream:
        show("\n")
    else:
        for number, text in enumerate(texts, 1):
            console.rule(f"sample {number}")
            show(text + "\n")
    if output is not None:
        write_text_atomic(output, "\n\n----------\n\n".join(texts) + "\n")
        console.print(f"wrote {len(texts)} samples to {output}")


def _load_run_with_split(run: Path, split: str):
    import genmodels
    from genmodels.data import load_data
    from genmodels.runs import load_run_spec

    if split not in ("train", "validation", "test"):
        raise typer.BadParameter(f"--split must be train, validation or test, got {split!r}")
    return genmodels.load(run), getattr(load_data(load_run_spec(run).data), split)


def _labels_of(split, indices: list[int]) -> torch.Tensor | None:
    return None if split.labels is None else split.labels[indices]


@app.command(
    epilog="Examples:\n\n  genmodels reconstruct runs/vae-digits\n\n"
    "  genmodels reconstruct runs/conv-vae-mnist5k -n 32 --split validation -o recon.png"
)
def reconstruct(
    run: Annotated[Path, typer.Argument(help="Run directory of a model with a latent space (a VAE).")],
    n: Annotated[int, typer.Option("-n", help="Number of held-out images.")] = 16,
    split: Annotated[str, typer.Option(help="train, validation or test.")] = "test",
    output: Annotated[Path, typer.Option("--output", "-o", help="PNG file.")] = Path("reconstructions.png"),
) -> None:
    """Held-out images beside their reconstructions (pairs: original, reconstruction)."""
    from genmodels.applications.latent_space import reconstruct as reconstruct_images
    from genmodels.plotting import save_image_grid

    model, held_out = _load_run_with_split(run, split)
    indices = list(range(min(n, len(held_out))))
    save_image_grid(reconstruct_images(model, held_out.images[indices], _labels_of(held_out, indices)), output, 16)
    console.print(f"wrote {len(indices)} reconstructions to {output}")


@app.command(
    epilog="Examples:\n\n  genmodels interpolate runs/vae-digits --index 3 17 -o strip.png\n\n"
    "  genmodels interpolate runs/vae-mnist5k --index 0 1 --method spherical --steps 12"
)
def interpolate(
    run: Annotated[Path, typer.Argument(help="Run directory of a model with a latent space (a VAE).")],
    index: Annotated[tuple[int, int], typer.Option(help="Indices of the two held-out images.")] = (0, 1),
    steps: Annotated[int, typer.Option(help="Images in the strip, ends included.")] = 10,
    method: Annotated[str, typer.Option(help="linear or spherical.")] = "linear",
    split: Annotated[str, typer.Option(help="train, validation or test.")] = "test",
    output: Annotated[Path, typer.Option("--output", "-o", help="PNG file.")] = Path("interpolation.png"),
) -> None:
    """Decode the path between two held-out images' latent codes as an image strip."""
    from genmodels.applications.latent_space import interpolate as interpolate_codes
    from genmodels.plotting import save_image_grid

    model, held_out = _load_run_with_split(run, split)
    for position in index:
        if not 0 <= position < len(held_out):
            raise typer.BadParameter(f"--index {position} is outside the {split} split's {len(held_out)} images")
    first, second = index
    strip = interpolate_codes(
        model, held_out.images[first], held_out.images[second], steps, method, _labels_of(held_out, [first, second])
    )
    save_image_grid(strip, output, columns=steps)
    console.print(
        f"wrote a {steps}-image {method} interpolation between {split} images {first} and {second} to {output}"
    )


@app.command(epilog="Examples:\n\n  genmodels traverse runs/vae-digits --index 5 -o traversal.png")
def traverse(
    run: Annotated[Path, typer.Argument(help="Run directory of a model with a latent space (a VAE).")],
    index: Annotated[int, typer.Option(help="Index of the held-out image whose code is varied.")] = 0,
    split: Annotated[str, typer.Option(help="train, validation or test.")] = "test",
    output: Annotated[Path, typer.Option("--output", "-o", help="PNG file.")] = Path("traversal.png"),
) -> None:
    """One row per latent dimension: that dimension swept from -3 to 3, the others fixed at the image's code."""
    from genmodels.applications.latent_space import traverse as traverse_code
    from genmodels.plotting import save_image_grid

    model, held_out = _load_run_with_split(run, split)
    if not 0 <= index < len(held_out):
        raise typer.BadParameter(f"--index {index} is outside the {split} split's {len(held_out)} images")
    label = None if held_out.labels is None else held_out.labels[index]
    save_image_grid(traverse_code(model, held_out.images[index], label=label), output, columns=9)
    console.print(f"wrote the latent traversal of {split} image {index} to {output}")


features_app = typer.Typer(
    help="Feature networks: the per-data-set classifiers behind fd_<data>, precision/recall and coverage.",
    no_args_is_help=True,
)
app.add_typer(features_app, name="features")
app.add_typer(detect_app, name="detect")
app.add_typer(molecules_app, name="molecules")
app.add_typer(ensemble_app, name="ensemble")


@features_app.command(
    "train",
    epilog="Examples:\n\n  genmodels features train --data mnist5k\n\n"
    "  genmodels features train --data ./my_labelled_images -o features/mine --epochs 30",
)
def train_features(
    data: Annotated[str, typer.Option(help="A labelled image data set: a built-in name or a path.")],
    output: Annotated[
        Optional[Path],
        typer.Option("--output", "-o", help="Directory [default: ~/.cache/genmodels/feature_networks/DATA]."),
    ] = None,
    epochs: Annotated[int, typer.Option(help="Training epochs (best validation accuracy is kept).")] = 20,
    seed: Annotated[int, typer.Option(help="Seed for initialisation, batches and augmentation.")] = 0,
) -> None:
    """Train (or re-train) the feature network of an image data set; later evaluations use it."""
    from genmodels.evaluation.feature_network import train_feature_network, user_feature_network_root

    output = output or user_feature_network_root() / Path(data).name
    record = train_feature_network(data, output, epochs=epochs, seed=seed)
    console.print(
        f"wrote {output}: test accuracy {record['test_accuracy']:.4f} "
        f"({record['test_accuracy_binarized']:.4f} on binarized test images)"
    )


@app.command(epilog="Examples:\n\n  genmodels datasets\n\n  genmodels train vae --data mnist5k")
def datasets() -> None:
    """List the built-in data sets (a path to images, .npy/.npz or IDX files works too)."""
    from genmodels.data import list_datasets

    table = Table("name", "description")
    for name, description in list_datasets().items():
        table.add_row(name, description)
    console.print(table)


@app.command(epilog="Examples:\n\n  genmodels models\n\n  genmodels train gan --data digits")
def models() -> None:
    """List the registered models and what their log_prob returns."""
    from genmodels.models import MODEL_REGISTRY

    table = Table("name", "class", "log_prob", "description")
    for name, model_class in sorted(MODEL_REGISTRY.items()):
        description = ((model_class.__doc__ or "").strip().splitlines() or [""])[0]
        kind = model_class.log_prob_kind if isinstance(model_class.log_prob_kind, str) else "its members' weakest"
        table.add_row(name, model_class.__name__, kind, description)
    console.print(table)


@app.command(epilog="Examples:\n\n  genmodels demo\n\n  genmodels demo -o demo-output --steps 3000")
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
        _print_report(run_dir, outcome.report)


app.command(epilog=FINETUNE_EPILOG)(finetune)
app.command(epilog="Examples:\n\n  genmodels info runs/vae-finetuned-mnist5k\n\n  genmodels info RUN --parts")(info)


def main() -> None:
    """Console entry point: expected errors (bad data, files, settings) as one clear line, not a traceback."""
    from genmodels.errors import GenmodelsError

    try:
        app()
    except (GenmodelsError, FileExistsError, KeyError, ValueError) as error:
        message = error.args[0] if isinstance(error, KeyError) and error.args else str(error)
        Console(stderr=True).print(f"[bold red]error:[/] {message}", highlight=False)
        raise SystemExit(1) from None

"""``genmodels sample`` (a grid picture or an array of samples) and ``genmodels generate`` (text from a prompt)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from genmodels.cli.printing import console

if TYPE_CHECKING:
    import torch

    from genmodels.models.base import GenerativeModel

sampling_commands = typer.Typer()

SampleFormat = Annotated[
    str,
    typer.Option(
        "--format",
        help="png (a grid image; text models write .txt; table models write a .csv table) or npy (an array "
        "(n, *data_shape): images in \\[0, 1], token ids for text, encoded rows for tables).",
    ),
]
Truncation = Annotated[
    Optional[float], typer.Option(help="Truncate the GAN's latent normal to \\[-t, t]: fidelity over variety.")
]


@sampling_commands.command(
    epilog="Examples:\n\n  genmodels sample runs/vae-digits -n 64 -o samples.png\n\n"
    "  genmodels sample runs/gan-digits -n 1000 --format npy -o samples.npy --seed 3\n\n"
    "  genmodels sample runs/dcgan-mnist5k --label 7 --truncation 0.7 -o sevens.png   (conditional GAN)\n\n"
    "  genmodels sample runs/tabular-flow-table -n 10000 -o synthetic.csv --condition country=de   (a table)"
)
def sample(
    run: Annotated[Path, typer.Argument(help="Run directory or saved model directory.")],
    n: Annotated[int, typer.Option("-n", help="Number of samples.")] = 64,
    output: Annotated[Path, typer.Option("--output", "-o", help="Output file.")] = Path("samples.png"),
    output_format: SampleFormat = "png",
    seed: Annotated[int, typer.Option(help="Sampling seed: the same seed gives the same samples.")] = 0,
    label: Annotated[Optional[int], typer.Option(help="Class of every sample (conditional models).")] = None,
    truncation: Truncation = None,
    strategy: Annotated[Optional[str], typer.Option(help="Ensembles: mixture, vote or rejection.")] = None,
    candidates: Annotated[Optional[int], typer.Option(help="Ensembles with vote: candidates per member.")] = None,
    condition: Annotated[
        Optional[list[str]],
        typer.Option(help="Table models: only rows with COLUMN=VALUE (repeatable; numbers within a tolerance)."),
    ] = None,
) -> None:
    """Draw samples from a trained model, as a grid picture or an array."""
    import torch

    import genmodels

    if output_format not in ("png", "npy"):
        raise typer.BadParameter(f"--format must be png or npy, got {output_format!r}")
    model = genmodels.load(run)
    controls = {"labels": label, "truncation": truncation, "strategy": strategy, "candidates": candidates}
    given = {name: value for name, value in controls.items() if value is not None}
    if getattr(model, "preprocessor", None) is not None and output_format == "png":
        table = model.sample_table(n, torch.Generator().manual_seed(seed), _conditions(condition), **given)
        output = _write_table(table, output)
        console.print(f"wrote {n} rows to {output}")
        return
    if condition:
        raise typer.BadParameter("--condition needs a table model (one saved with preprocessor.json)")
    samples = model.sample(n, generator=torch.Generator().manual_seed(seed), **given)
    output = _write_samples(model, samples, output, output_format)
    console.print(f"wrote {n} samples to {output}")


def _conditions(assignments: list[str] | None) -> dict[str, str]:
    """``COLUMN=VALUE`` options as a mapping (the preprocessor converts values to each column's type)."""
    conditions = {}
    for assignment in assignments or []:
        column, equals, value = assignment.partition("=")
        if not equals or not column:
            raise typer.BadParameter(f"--condition takes COLUMN=VALUE, got {assignment!r}")
        conditions[column] = value
    return conditions


def _write_table(table: Any, output: Path) -> Path:
    """A sampled table as CSV, or Parquet for a .parquet/.pq name; a .png name becomes .csv."""
    if output.suffix in (".parquet", ".pq"):
        table.to_parquet(output, index=False)
        return output
    output = output.with_suffix(".csv") if output.suffix != ".csv" else output
    table.to_csv(output, index=False)
    return output


def _write_samples(model: GenerativeModel, samples: torch.Tensor, output: Path, output_format: str) -> Path:
    """Text models' samples as text (for png), arrays as .npy, images as a grid; returns the file written."""
    if getattr(model, "tokenizer", None) is not None and output_format == "png":
        output = output.with_suffix(".txt")
        texts = [model.tokenizer.decode(row.tolist()) for row in samples]
        output.write_text("\n\n----------\n\n".join(texts) + "\n", encoding="utf-8")
    elif output_format == "npy":
        import numpy as np

        np.save(output, samples.cpu().numpy())
    else:
        from genmodels.plotting import save_image_grid

        save_image_grid(samples, output)
    return output


@sampling_commands.command(
    epilog='Examples:\n\n  genmodels generate runs/gpt-shakespeare --prompt "ROMEO:" --max-new-tokens 500 '
    "--temperature 0.8 --top-p 0.95\n\n"
    "  genmodels generate runs/gpt-shakespeare --prompt \"JULIET:\" --num-samples 4 --stop $'\\n\\n' -o lines.txt"
)
def generate(
    run: Annotated[Path, typer.Argument(help="Run directory or saved model directory of a sequence model.")],
    prompt: Annotated[str, typer.Option(help="Text to continue \\[default: a line break].")] = "",
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

    model = genmodels.load(run)
    if not hasattr(model, "generate_tokens"):  # only a language model continues a prompt token by token
        raise typer.BadParameter(
            f"{run} holds a {model.model_type!r} model; generate needs a sequence model (gpt, ...)"
        )
    stream = num_samples == 1
    if stream:
        _show(prompt)
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
        on_text=_show if stream else None,
    )
    if stream:
        _show("\n")
    else:
        for number, text in enumerate(texts, 1):
            console.rule(f"sample {number}")
            _show(text + "\n")
    if output is not None:
        write_text_atomic(output, "\n\n----------\n\n".join(texts) + "\n")
        console.print(f"wrote {len(texts)} samples to {output}")


def _show(text: str) -> None:
    """Text as it comes, unwrapped and unstyled (generated text is not rich markup)."""
    sys.stdout.write(text)
    sys.stdout.flush()

"""``genmodels sample`` (a grid picture or an array of samples) and ``genmodels generate`` (text from a prompt)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from genmodels.cli.lists import ListOptionsCommand
from genmodels.cli.printing import console

if TYPE_CHECKING:
    import torch

    from genmodels.models.base import GenerativeModel

sampling_commands = typer.Typer()
SAMPLE_CHUNK_BYTES = 256 * 1024**2
"""``sample --format npy`` draws larger requests in chunks of this size and writes them to disk as they come."""

SAMPLE_FORMATS = {
    ".png": "png",
    ".npy": "npy",
    ".npz": "npz",
    ".safetensors": "safetensors",
    ".txt": "txt",
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
}
"""Output file extension -> the format written: a grid picture, arrays or tensors, decoded text, table rows."""

SampleFormat = Annotated[
    Optional[str],
    typer.Option(
        "--format",
        help="png (a grid image), npy, npz or safetensors (the array (n, *data_shape): images in \\[0, 1], token "
        "ids for text, encoded rows for tables), txt (text models), csv or parquet (table models: the table's own "
        "columns) \\[default: from the -o extension].",
    ),
]
Truncation = Annotated[
    Optional[float], typer.Option(help="Truncate the GAN's latent normal to \\[-t, t]: fidelity over variety.")
]


@sampling_commands.command(
    cls=ListOptionsCommand,
    epilog="Examples:\n\n  genmodels sample runs/vae-digits -n 64 -o samples.png\n\n"
    "  genmodels sample runs/gan-digits -n 1000 -o samples.npy --seed 3   (the array; .npz, .safetensors too)\n\n"
    "  genmodels sample runs/dcgan-mnist5k --label 7 --truncation 0.7 -o sevens.png   (conditional GAN)\n\n"
    "  genmodels sample runs/diffusion-mnist5k --steps 16 --sampler heun --guidance 2 --label 3   (diffusion)\n\n"
    "  genmodels sample runs/tabular-flow-table -n 10000 -o synthetic.csv --condition country=de   (a table)",
)
def sample(
    run: Annotated[Path, typer.Argument(help="Run directory or saved model directory.")],
    n: Annotated[int, typer.Option("-n", help="Number of samples.")] = 64,
    output: Annotated[
        Optional[Path],
        typer.Option("--output", "-o", help="Output file \\[default: samples.png; samples.txt, samples.csv]."),
    ] = None,
    output_format: SampleFormat = None,
    seed: Annotated[int, typer.Option(help="Sampling seed: the same seed gives the same samples.")] = 0,
    label: Annotated[Optional[int], typer.Option(help="Class of every sample (conditional models).")] = None,
    truncation: Truncation = None,
    steps: Annotated[Optional[int], typer.Option(help="Diffusion and flow matching: sampler steps.")] = None,
    sampler: Annotated[
        Optional[str], typer.Option(help="Diffusion and flow matching: euler, ddim, heun or adaptive.")
    ] = None,
    guidance: Annotated[
        Optional[float],
        typer.Option(
            help="Conditional diffusion and flow matching: classifier-free guidance weight (0 unconditional)."
        ),
    ] = None,
    strategy: Annotated[Optional[str], typer.Option(help="Ensembles: mixture, vote or rejection.")] = None,
    candidates: Annotated[Optional[int], typer.Option(help="Ensembles with vote: candidates per member.")] = None,
    condition: Annotated[
        Optional[list[str]],
        typer.Option(help="Table models: only rows with COLUMN=VALUE (repeatable; numbers within a tolerance)."),
    ] = None,
    chunk_rows: Annotated[
        Optional[int],
        typer.Option(
            help="Table models: draw and write this many rows at a time, each chunk from its own seed; a killed "
            "job run again continues where it stopped."
        ),
    ] = None,
) -> None:
    """Draw samples from a trained model, as a grid picture or an array."""
    import torch

    import genmodels
    from genmodels.io.run_directory import claim_output

    if n < 1:
        raise typer.BadParameter(f"-n must be a positive number of samples, got {n}")
    model = genmodels.load(run)
    output, output_format = _sample_output(model, output, output_format)
    controls = {
        "labels": label,
        "truncation": truncation,
        "steps": steps,
        "sampler": sampler,
        "guidance": guidance,
        "strategy": strategy,
        "candidates": candidates,
    }
    given = {name: value for name, value in controls.items() if value is not None}
    generator = torch.Generator().manual_seed(seed)
    if chunk_rows is not None:
        if output_format not in ("csv", "parquet"):
            raise typer.BadParameter("--chunk-rows writes table rows: give a table model and a .csv or .parquet output")
        from genmodels.applications.bulk import sample_table_in_chunks

        with claim_output(output):
            count = sample_table_in_chunks(
                model, n, output, chunk_rows, seed, _conditions(condition), given, run=str(run.resolve())
            )
        console.print(f"wrote {count} rows to {output}")
        return
    if output_format in ("csv", "parquet"):
        table = model.sample_table(n, generator, _conditions(condition), **given)
        with claim_output(output):
            _write_table(table, output, output_format)
        console.print(f"wrote {n} rows to {output}")
        return
    if condition:
        raise typer.BadParameter("--condition needs a table model (one saved with preprocessor.json)")
    chunk_rows = max(1, SAMPLE_CHUNK_BYTES // model.sample_bytes())
    with claim_output(output):
        if output_format == "npy" and n > chunk_rows:
            _write_npy_in_chunks(model, n, chunk_rows, output, generator, given)
        else:
            _write_samples(model, model.sample(n, generator=generator, **given), output, output_format)
    console.print(f"wrote {n} samples to {output}")


def _sample_output(model: GenerativeModel, output: Path | None, output_format: str | None) -> tuple[Path, str]:
    """The file and format: --format if given, else the extension of -o, else what suits the model."""
    formats = ", ".join(dict.fromkeys(SAMPLE_FORMATS.values()))
    if output_format is not None and output_format not in SAMPLE_FORMATS.values():
        raise typer.BadParameter(f"--format must be one of {formats}, got {output_format!r}")
    if output is None:
        default = "txt" if _is_text(model) else "csv" if _is_table(model) else "png"
        output_format = output_format or default
        return Path(f"samples.{output_format}"), output_format
    inferred = SAMPLE_FORMATS.get(output.suffix.lower())
    if output_format is None and inferred is None:
        raise typer.BadParameter(
            f"-o {output}: cannot tell the format from {output.suffix or 'no extension'!r}; end the file name in "
            f"{', '.join(SAMPLE_FORMATS)} or give --format ({formats})"
        )
    if output_format is not None and inferred is not None and output_format != inferred:
        raise typer.BadParameter(f"--format {output_format} contradicts -o {output}; drop one of them")
    output_format = output_format or inferred
    if output_format == "txt" and not _is_text(model):
        raise typer.BadParameter(f"-o {output}: txt is for text models; {model.model_type!r} samples are arrays")
    if output_format in ("csv", "parquet") and not _is_table(model):
        raise typer.BadParameter(
            f"-o {output}: {output_format} is for table models; {model.model_type!r} has no table columns"
        )
    if output_format == "png" and _is_text(model):
        raise typer.BadParameter(f"-o {output}: a text model writes text; end the file name in .txt")
    if output_format == "png" and _is_table(model):
        raise typer.BadParameter(f"-o {output}: a table model writes rows; end the file name in .csv or .parquet")
    return output, output_format


def _is_text(model: GenerativeModel) -> bool:
    return getattr(model, "tokenizer", None) is not None


def _is_table(model: GenerativeModel) -> bool:
    return getattr(model, "preprocessor", None) is not None


def _conditions(assignments: list[str] | None) -> dict[str, str]:
    """``COLUMN=VALUE`` options as a mapping (the preprocessor converts values to each column's type)."""
    conditions = {}
    for assignment in assignments or []:
        column, equals, value = assignment.partition("=")
        if not equals or not column:
            raise typer.BadParameter(f"--condition takes COLUMN=VALUE, got {assignment!r}")
        conditions[column] = value
    return conditions


def _write_table(table: Any, output: Path, output_format: str) -> None:
    """A sampled table in its own columns, as CSV or Parquet."""
    from genmodels.io.files import atomic_path, write_text_atomic

    if output_format == "parquet":
        with atomic_path(output) as temporary:
            table.to_parquet(temporary, index=False)
    else:
        write_text_atomic(output, table.to_csv(index=False))


def _write_npy_in_chunks(
    model: GenerativeModel, n: int, chunk_rows: int, output: Path, generator: torch.Generator, controls: dict
) -> None:
    """``n`` samples drawn ``chunk_rows`` at a time into a memory-mapped ``.npy``: memory stays at one chunk.

    Refused after the first chunk, before anything is written, when the disk cannot hold the array.
    """
    import shutil

    import numpy as np

    from genmodels.errors import ResourceError
    from genmodels.io.files import atomic_path
    from genmodels.io.memory import format_bytes

    first = model.sample(chunk_rows, generator=generator, **controls).cpu().numpy()
    needed, folder = n * first[0].nbytes, output.resolve().parent
    free = shutil.disk_usage(folder).free
    if needed > free:
        raise ResourceError(
            f"{n} samples need {format_bytes(needed)} on disk, but {folder} has {format_bytes(free)} free"
        )
    with atomic_path(output) as temporary:
        array = np.lib.format.open_memmap(temporary, mode="w+", dtype=first.dtype, shape=(n, *first.shape[1:]))
        array[:chunk_rows] = first
        for start in range(chunk_rows, n, chunk_rows):
            rows = min(chunk_rows, n - start)
            array[start : start + rows] = model.sample(rows, generator=generator, **controls).cpu().numpy()
        array.flush()
        del array


def _write_samples(model: GenerativeModel, samples: torch.Tensor, output: Path, output_format: str) -> None:
    """Decoded text, table rows, an array, a tensor file or an image grid, as ``output_format`` says."""
    from genmodels.io.files import atomic_path, write_text_atomic

    if output_format == "txt":
        texts = [model.tokenizer.decode(row.tolist()) for row in samples]
        write_text_atomic(output, "\n\n----------\n\n".join(texts) + "\n")
    elif output_format in ("npy", "npz"):
        import numpy as np

        array = samples.cpu().numpy()
        with atomic_path(output) as temporary, open(temporary, "wb") as stream:
            if output_format == "npy":
                np.save(stream, array)
            else:
                np.savez_compressed(stream, samples=array)
    elif output_format == "safetensors":
        from safetensors.torch import save_file

        with atomic_path(output) as temporary:
            save_file({"samples": samples.detach().cpu().contiguous()}, str(temporary))
    else:
        from genmodels.plotting import save_image_grid

        save_image_grid(samples, output)


@sampling_commands.command(
    cls=ListOptionsCommand,
    epilog='Examples:\n\n  genmodels generate runs/gpt-shakespeare --prompt "ROMEO:" --max-new-tokens 500 '
    "--temperature 0.8 --top-p 0.95\n\n"
    "  genmodels generate runs/gpt-shakespeare --prompt \"JULIET:\" --num-samples 4 --stop $'\\n\\n' -o lines.txt",
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
        Optional[list[str]], typer.Option(help="End a sample at this text (one or more; not included).")
    ] = None,
    seed: Annotated[Optional[int], typer.Option(help="Sampling seed: the same seed gives the same text.")] = None,
    num_samples: Annotated[int, typer.Option(help="Samples, generated together in one batch.")] = 1,
    cache: Annotated[bool, typer.Option(help="Reuse attention keys/values (one step per token).")] = True,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Also write the samples here.")] = None,
) -> None:
    """Generate text from a prompt, streaming a single sample to the terminal as it is produced."""
    import genmodels
    from genmodels.io.files import write_text_atomic
    from genmodels.io.run_directory import claim_output

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
        with claim_output(output):
            write_text_atomic(output, "\n\n----------\n\n".join(texts) + "\n")
        console.print(f"wrote {len(texts)} samples to {output}")


def _show(text: str) -> None:
    """Text as it comes, unwrapped and unstyled (generated text is not rich markup)."""
    sys.stdout.write(text)
    sys.stdout.flush()

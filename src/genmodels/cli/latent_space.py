"""``genmodels reconstruct``, ``interpolate`` and ``traverse``: pictures of a VAE's latent space on held-out images."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from genmodels.cli.lists import ListOptionsCommand
from genmodels.cli.printing import console

if TYPE_CHECKING:
    import torch

    from genmodels.data.spec import ImageSplit
    from genmodels.models.base import GenerativeModel

latent_space_commands = typer.Typer()

LatentRun = Annotated[Path, typer.Argument(help="Run directory of a model with a latent space (a VAE).")]
Split = Annotated[str, typer.Option(help="train, validation or test.")]


def _load_run_with_split(run: Path, split: str) -> tuple[GenerativeModel, ImageSplit]:
    """The run's model and one split of the data it was trained on."""
    import genmodels
    from genmodels.data import load_data
    from genmodels.runs import load_run_spec

    if split not in ("train", "validation", "test"):
        raise typer.BadParameter(f"--split must be train, validation or test, got {split!r}")
    return genmodels.load(run), getattr(load_data(load_run_spec(run).data), split)


def _labels_of(split: ImageSplit, indices: list[int]) -> torch.Tensor | None:
    return None if split.labels is None else split.labels[indices]


def _check_index(index: int, split: str, held_out: ImageSplit) -> None:
    if not 0 <= index < len(held_out):
        raise typer.BadParameter(f"--index {index} is outside the {split} split's {len(held_out)} images")


@latent_space_commands.command(
    cls=ListOptionsCommand,
    epilog="Examples:\n\n  genmodels reconstruct runs/vae-digits\n\n"
    "  genmodels reconstruct runs/conv-vae-mnist5k -n 32 --split validation -o recon.png",
)
def reconstruct(
    run: LatentRun,
    n: Annotated[int, typer.Option("-n", help="Number of held-out images.")] = 16,
    split: Split = "test",
    output: Annotated[Path, typer.Option("--output", "-o", help="PNG file.")] = Path("reconstructions.png"),
) -> None:
    """Held-out images above their reconstructions, in rows labelled original and reconstruction."""
    from genmodels.applications.latent_space import reconstruct as reconstruct_images
    from genmodels.plotting import save_reconstructions

    model, held_out = _load_run_with_split(run, split)
    indices = list(range(min(n, len(held_out))))
    save_reconstructions(reconstruct_images(model, held_out.images[indices], _labels_of(held_out, indices)), output)
    console.print(f"wrote {len(indices)} reconstructions to {output}")


@latent_space_commands.command(
    cls=ListOptionsCommand,
    epilog="Examples:\n\n  genmodels interpolate runs/vae-digits --index 3 17 -o strip.png\n\n"
    "  genmodels interpolate runs/vae-mnist5k --index 0 1 --method spherical --steps 12",
)
def interpolate(
    run: LatentRun,
    index: Annotated[tuple[int, int], typer.Option(help="Indices of the two held-out images.")] = (0, 1),
    steps: Annotated[int, typer.Option(help="Images in the strip, ends included.")] = 10,
    method: Annotated[str, typer.Option(help="linear or spherical.")] = "linear",
    split: Split = "test",
    output: Annotated[Path, typer.Option("--output", "-o", help="PNG file.")] = Path("interpolation.png"),
) -> None:
    """Decode the path between two held-out images' latent codes as an image strip."""
    from genmodels.applications.latent_space import interpolate as interpolate_codes
    from genmodels.plotting import save_labelled_grid

    model, held_out = _load_run_with_split(run, split)
    for position in index:
        _check_index(position, split, held_out)
    first, second = index
    strip = interpolate_codes(
        model, held_out.images[first], held_out.images[second], steps, method, _labels_of(held_out, [first, second])
    )
    fractions = [f"{index / (steps - 1):.2f}" for index in range(1, steps - 1)]
    save_labelled_grid(
        strip,
        output,
        columns=steps,
        column_labels=[f"image {first}", *fractions, f"image {second}"],
        title=f"{method} interpolation between {split} images {first} and {second}",
    )
    console.print(
        f"wrote a {steps}-image {method} interpolation between {split} images {first} and {second} to {output}"
    )


@latent_space_commands.command(
    cls=ListOptionsCommand, epilog="Examples:\n\n  genmodels traverse runs/vae-digits --index 5 -o traversal.png"
)
def traverse(
    run: LatentRun,
    index: Annotated[int, typer.Option(help="Index of the held-out image whose code is varied.")] = 0,
    split: Split = "test",
    output: Annotated[Path, typer.Option("--output", "-o", help="PNG file.")] = Path("traversal.png"),
) -> None:
    """One row per latent dimension: that dimension swept from -3 to 3, the others fixed at the image's code."""
    from genmodels.applications.latent_space import TRAVERSAL_VALUES
    from genmodels.applications.latent_space import traverse as traverse_code
    from genmodels.plotting import save_labelled_grid

    model, held_out = _load_run_with_split(run, split)
    _check_index(index, split, held_out)
    label = None if held_out.labels is None else held_out.labels[index]
    grid = traverse_code(model, held_out.images[index], TRAVERSAL_VALUES, label=label)
    save_labelled_grid(
        grid,
        output,
        columns=len(TRAVERSAL_VALUES),
        row_labels=[f"z{dimension}" for dimension in range(len(grid) // len(TRAVERSAL_VALUES))],
        column_labels=[f"{value:+g}" for value in TRAVERSAL_VALUES.tolist()],
        title=f"{split} image {index}: one latent dimension swept per row (prior s.d.)",
    )
    console.print(f"wrote the latent traversal of {split} image {index} to {output}")

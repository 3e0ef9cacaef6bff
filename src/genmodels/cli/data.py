"""``genmodels data pack``: an image collection as sharded Arrow files that training streams from."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from genmodels.cli.printing import console

data_app = typer.Typer(help="Data sets too large for memory: pack them for streaming.", no_args_is_help=True)


@data_app.command(
    "pack",
    epilog="Examples:\n\n  genmodels data pack photos/ -o photos-packed --image-size 64\n\n"
    "  genmodels train vae --data photos-packed   (streamed: each batch is read when it is needed)",
)
def pack(
    source: Annotated[str, typer.Argument(help="An image folder (subfolders are classes) or a .npy array.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="New directory for the Arrow shards.")],
    image_size: Annotated[Optional[int], typer.Option(help="Resize every image to this square size.")] = None,
    channels: Annotated[Optional[int], typer.Option(help="1 or 3 to convert; default: what the images have.")] = None,
    shard_mb: Annotated[int, typer.Option(help="Megabytes of pixels per shard.")] = 256,
) -> None:
    """Decode every image once and write the raw pixels and labels as Arrow shards (Hugging Face datasets format).

    Training on the directory streams it: batches are read by index from memory-mapped shards.
    """
    from genmodels.data.packing import pack_dataset, remove_pack
    from genmodels.errors import ConfigError

    if channels not in (None, 1, 3):
        raise ConfigError(f"--channels must be 1 or 3, got {channels}")
    if shard_mb < 1:
        raise ConfigError(f"--shard-mb must be at least 1, got {shard_mb}")
    existed = output.exists()
    try:
        info = pack_dataset(source, output, channels, image_size, shard_bytes=shard_mb * 1024**2)
    except BaseException:
        if not existed:
            remove_pack(output)
        raise
    labelled = f", {len(info['class_names'])} classes" if info["class_names"] else ""
    console.print(f"packed {info['rows']} images of shape {tuple(info['raw_shape'])}{labelled} -> {output}")

"""``genmodels datasets`` and ``genmodels models``: what is built in, as tables."""

from __future__ import annotations

import re

import typer
from rich.markup import escape
from rich.table import Table

from genmodels.cli.lists import ListOptionsCommand
from genmodels.cli.printing import console

catalog_commands = typer.Typer()

SPHINX_ROLE = re.compile(r":\w+:`~?(?:[\w.]*\.)?([^`]+)`")
"""``:class:`~genmodels.models.gan.base.BaseGAN``` and the like; group 1 is the name a reader sees."""
LITERAL = re.compile(r"``([^`]+)``")


def plain_text(docstring: str) -> str:
    """A docstring line as a terminal shows it: reST roles reduced to their names, literals unquoted."""
    return escape(LITERAL.sub(r"\1", SPHINX_ROLE.sub(r"\1", docstring)))


@catalog_commands.command(
    cls=ListOptionsCommand, epilog="Examples:\n\n  genmodels datasets\n\n  genmodels train vae --data mnist5k"
)
def datasets() -> None:
    """List the built-in data sets (a path to images, .npy/.npz or IDX files works too)."""
    from genmodels.data import list_datasets

    table = Table("name", "description")
    for name, description in list_datasets().items():
        table.add_row(name, description)
    console.print(table)


@catalog_commands.command(
    cls=ListOptionsCommand, epilog="Examples:\n\n  genmodels models\n\n  genmodels train gan --data digits"
)
def models() -> None:
    """List the registered models and what their log_prob returns."""
    from genmodels.models import MODEL_REGISTRY

    table = Table("name", "class", "log_prob", "description")
    for name, model_class in sorted(MODEL_REGISTRY.items()):
        description = plain_text(((model_class.__doc__ or "").strip().splitlines() or [""])[0])
        kind = model_class.log_prob_kind if isinstance(model_class.log_prob_kind, str) else "its members' weakest"
        table.add_row(name, model_class.__name__, kind, description)
    console.print(table)

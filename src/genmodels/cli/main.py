"""The ``genmodels`` command line: the app assembled from the command modules, and the console entry point.

The command modules import only typer, rich and the standard library when they load; each command
imports the models, torch and the data libraries it needs when it runs, so help answers at once.
"""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape

from genmodels.cli.catalog import catalog_commands
from genmodels.cli.data import data_app
from genmodels.cli.detect import detect_app
from genmodels.cli.ensemble import ensemble_app
from genmodels.cli.evaluation import evaluation_commands
from genmodels.cli.features import features_app
from genmodels.cli.finetune import finetune_commands
from genmodels.cli.info import info_commands
from genmodels.cli.latent_space import latent_space_commands
from genmodels.cli.molecules import molecules_app
from genmodels.cli.sampling import sampling_commands
from genmodels.cli.serve import serve_commands
from genmodels.cli.tables import tables_app
from genmodels.cli.train import train_commands

app = typer.Typer(
    help="Generative models behind one interface: train, sample and evaluate from the command line.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode="rich",
)
for commands in (
    train_commands,
    sampling_commands,
    evaluation_commands,
    latent_space_commands,
    catalog_commands,
    finetune_commands,
    info_commands,
    serve_commands,
):
    app.add_typer(commands)
app.add_typer(features_app, name="features")
app.add_typer(detect_app, name="detect")
app.add_typer(molecules_app, name="molecules")
app.add_typer(ensemble_app, name="ensemble")
app.add_typer(tables_app, name="tables")
app.add_typer(data_app, name="data")


def main() -> None:
    """Console entry point: expected errors (bad data, files, settings, a missing extra) as one line, no traceback.

    A file the system refuses (no permission, no space, a missing folder) is named with the reason.
    """
    from genmodels.errors import GenmodelsError

    try:
        app()
    except (GenmodelsError, KeyError, ValueError, OSError) as error:
        Console(stderr=True).print(f"[bold red]error:[/] {escape(one_line(error))}", highlight=False, soft_wrap=True)
        raise SystemExit(1) from None


def one_line(error: BaseException) -> str:
    """The message of an expected error on one line; a system error names its file and the reason."""
    from genmodels.errors import GenmodelsError

    if isinstance(error, OSError) and not isinstance(error, GenmodelsError) and error.filename is not None:
        message = f"{error.filename}: {error.strerror or error}"
    elif isinstance(error, KeyError) and error.args:
        message = str(error.args[0])
    else:
        message = str(error)
    return " ".join(message.split())

"""The command line as a click command, for the documentation's CLI reference (read by mkdocs-click)."""

import typer

from genmodels.cli.main import app

command = typer.main.get_command(app)

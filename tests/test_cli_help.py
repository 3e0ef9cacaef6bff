"""The command line's help: cheap to load, every bracketed word shown, and errors as one line."""

import re
import subprocess
import sys

import click
import pytest
import typer
from typer.testing import CliRunner

from genmodels.cli.main import app

runner = CliRunner()
HEAVY_LIBRARIES = {"torch", "numpy", "pandas", "matplotlib", "rdkit", "lightning"}
BRACKETED = re.compile(r"\\?\[([^\[\]]+)\]")
BOX_DRAWING = re.compile(r"[│╭╮╰╯─]")


def all_commands(command: click.Command, path: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], click.Command]]:
    """Every command and group under ``command``, with the words that call it."""
    found = [(path, command)]
    for name, sub in getattr(command, "commands", {}).items():
        found += all_commands(sub, (*path, name))
    return found


COMMANDS = all_commands(typer.main.get_command(app))


def help_output(*words: str) -> str:
    """``--help`` of a command, in a wide terminal, box borders dropped and whitespace collapsed."""
    result = runner.invoke(app, [*words, "--help"], env={"COLUMNS": "250"})
    assert result.exit_code == 0, result.output
    return " ".join(BOX_DRAWING.sub(" ", result.output).split())


def test_importing_the_command_line_loads_no_heavy_library():
    code = (
        "import genmodels.cli.main, sys; "
        f"print(sorted(m for m in sys.modules if m.split('.')[0] in {sorted(HEAVY_LIBRARIES)}))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert loaded.strip() == "[]"


@pytest.mark.parametrize(("words", "command"), COMMANDS, ids=[" ".join(words) or "genmodels" for words, _ in COMMANDS])
def test_every_bracketed_word_of_a_help_text_is_shown(words, command):
    texts = [command.help, command.epilog, *(getattr(param, "help", None) for param in command.params)]
    expected = {f"[{' '.join(inner.split())}]" for text in texts for inner in BRACKETED.findall(text or "")}
    shown = help_output(*words)
    assert not [word for word in expected if word not in shown]


def test_train_help_names_the_config_file_sections():
    shown = help_output("train")
    assert "[model], [data], [trainer] sections" in shown and "[default: runs/MODEL-DATA" in shown


MISSING_RDKIT = (
    "import importlib.util as util, sys; find_spec = util.find_spec; "
    "util.find_spec = lambda name, *args: None if name == 'rdkit' else find_spec(name, *args); "
    "sys.argv = ['genmodels', 'molecules', 'evaluate', 'generated.smi', '--reference', 'moses']; "
    "from genmodels.cli.main import main; main()"
)


def test_a_missing_extra_is_one_line_naming_what_to_install(tmp_path):
    result = subprocess.run([sys.executable, "-c", MISSING_RDKIT], capture_output=True, text=True, cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr
    assert 'rdkit not installed): pip install "genmodels[molecules]"' in result.stderr

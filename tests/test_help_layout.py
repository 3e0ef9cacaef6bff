"""Help on an 80-column terminal: every option name whole, every bracket shown; the model list in plain words."""

import re

import pytest
import typer
from typer.testing import CliRunner

from genmodels.cli.catalog import plain_text
from genmodels.cli.main import app

runner = CliRunner()
BOX_DRAWING = re.compile(r"[│╭╮╰╯─]")


def commands(command, path=()):
    found = [(path, command)]
    for name, sub in getattr(command, "commands", {}).items():
        found += commands(sub, (*path, name))
    return found


COMMANDS = commands(typer.main.get_command(app))


def narrow_help(*words: str) -> str:
    result = runner.invoke(app, [*words, "--help"], env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    return result.output


@pytest.mark.parametrize(("words", "command"), COMMANDS, ids=[" ".join(words) or "genmodels" for words, _ in COMMANDS])
def test_on_80_columns_no_option_name_or_help_word_is_cut(words, command):
    output = narrow_help(*words)
    assert max(len(line) for line in output.splitlines()) <= 80
    assert "…" not in output
    for param in command.params:
        for name in [*param.opts, *param.secondary_opts]:
            if name.startswith("--"):
                assert re.search(rf"(?<![\w-]){re.escape(name)}(?![\w-])", output), f"{name} is not shown whole"


def test_train_help_on_80_columns_shows_its_bracketed_sections_and_the_new_options():
    text = " ".join(BOX_DRAWING.sub(" ", narrow_help("train")).split())
    assert "TOML or JSON file with [model], [data], [trainer] sections." in text
    assert "[default: runs/MODEL-DATA;" in text
    assert "--quick" in text and "--final-eval" in text and "[default: full; quick with --quick]" in text


def test_evaluate_help_on_80_columns_shows_its_defaults():
    text = " ".join(BOX_DRAWING.sub(" ", narrow_help("evaluate")).split())
    for default in ("[default: test]", "[default: RUN/evaluation-SPLIT.json]", "[default: the model's]"):
        assert default in text


def test_plain_text_drops_rest_markup_and_keeps_brackets():
    assert plain_text("MLP GAN (see :class:`~genmodels.models.gan.base.BaseGAN` for losses).") == (
        "MLP GAN (see BaseGAN for losses)."
    )
    assert plain_text("uses ``ema_decay`` 0.999 and :func:`load`") == "uses ema_decay 0.999 and load"
    assert plain_text("Dense(hidden) [a note]") == "Dense(hidden) \\[a note]"  # rich markup escaped, shown as is


def test_models_lists_docstrings_without_rest_markup():
    result = runner.invoke(app, ["models"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "``" not in result.output and ":class:" not in result.output
    assert "encode/decode" in result.output and "(see BaseGAN for losses and scoring)" in result.output


def test_separate_binarize_flags_set_the_data_and_refuse_each_other(tmp_path):
    result = runner.invoke(app, ["train", "vae", "--data", "digits", "--binarize", "--no-binarize"])
    assert result.exit_code == 2
    assert "give --binarize or --no-binarize, not both" in result.output

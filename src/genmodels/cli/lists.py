"""List options that take values as the docs write them: ``--seeds 0 1 2``, ``--seeds 0,1,2``, ``--seeds 0 --seeds 1``.

click (which typer builds on) gives an option a fixed number of values; a list is the option
repeated. Commands built with :class:`ListOptionsCommand` rewrite the arguments before click
parses them: the words after a list option, up to the next option, become one repetition each, and
numbers may be joined by commas.
Positional arguments therefore go before list options (``genmodels ensemble create A B --weights 0.5 0.5``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, get_args

import typer
from typer.core import TyperCommand, TyperOption


class ListOptionsCommand(TyperCommand):
    """A command whose repeatable options also take several values after one flag."""

    def parse_args(self, ctx: typer.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, expand_list_options(self.params, args))


def expand_list_options(params: Sequence[Any], args: Sequence[str]) -> list[str]:
    """``--seeds 0 1,2`` -> ``--seeds 0 --seeds 1 --seeds 2``; every other word is left as it is."""
    list_options = {
        name: param for param in params if isinstance(param, TyperOption) and param.multiple for name in param.opts
    }
    expanded: list[str] = []
    option: TyperOption | None = None
    option_name = ""
    awaiting_value = False
    for position, word in enumerate(args):
        if word == "--":
            expanded.extend(args[position:])
            break
        if option is not None and (awaiting_value or _is_value(word, option)):
            first, *rest = _split(word, option)
            expanded.extend([first] if awaiting_value else [option_name, first])
            for value in rest:
                expanded.extend([option_name, value])
            awaiting_value = False
            continue
        name, equals, value = word.partition("=")
        if name in list_options:
            option, option_name = list_options[name], name
            if equals:
                first, *rest = _split(value, option)
                expanded.append(f"{name}={first}")
                for extra in rest:
                    expanded.extend([name, extra])
            else:
                expanded.append(word)
                awaiting_value = True
            continue
        option, awaiting_value = None, False
        expanded.append(word)
    return expanded


def _is_number_list(option: TyperOption) -> bool:
    return any(kind in (int, float) for kind in get_args(option.type_descriptor.annotation))


def _is_value(word: str, option: TyperOption) -> bool:
    """A word that is one more value of the list option (not the next option)."""
    if not word.startswith("-"):
        return True
    if _is_number_list(option):
        try:
            float(word.split(",")[0])
        except ValueError:
            return False
        return True
    return False


def _split(word: str, option: TyperOption) -> list[str]:
    """Comma-joined numbers apart; text values (``--set model.hidden=[64,64]``) stay whole."""
    if _is_number_list(option) and "," in word:
        return [part for part in word.split(",") if part] or [word]
    return [word]

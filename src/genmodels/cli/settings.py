"""Run settings from the command line: a ``--config`` file, ``--set section.key=value`` and trainer options.

Each source fills the same three sections (model, data, trainer); a later one overrides an earlier
one: the config file, then ``--set``, then the command's own trainer options.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import typer

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib

SECTIONS = ("model", "data", "trainer")
Sections = dict[str, dict[str, Any]]

TRAINER_OPTIONS = {
    "max_steps": "max_steps",
    "max_seconds": "max_seconds",
    "batch_size": "batch_size",
    "lr": "learning_rate",
    "seed": "seed",
    "accelerator": "accelerator",
    "devices": "devices",
    "strategy": "strategy",
    "precision": "precision",
    "num_nodes": "num_nodes",
    "val_every": "val_every",
    "checkpoint_every": "checkpoint_every",
    "gradient_clip_norm": "gradient_clip_norm",
    "lr_schedule": "lr_schedule",
    "early_stopping_patience": "early_stopping_patience",
    "freeze": "freeze",
    "gradual_unfreeze": "gradual_unfreeze",
    "unfreeze_every": "unfreeze_every",
    "unfrozen_lr_ratio": "unfrozen_lr_ratio",
}
"""Command-line option -> the trainer setting it gives, for every option that gives one."""


def empty_sections() -> Sections:
    return {section: {} for section in SECTIONS}


def parse_assignments(assignments: list[str]) -> Sections:
    """``section.key=value`` pairs (value parsed as JSON where it can be) into nested sections."""
    sections = empty_sections()
    for assignment in assignments:
        key, separator, raw = assignment.partition("=")
        section, dot, name = key.partition(".")
        if not separator or not dot or section not in sections:
            raise typer.BadParameter(
                f"{assignment!r}: expected model.NAME=VALUE, data.NAME=VALUE or trainer.NAME=VALUE"
            )
        try:
            sections[section][name] = json.loads(raw)
        except json.JSONDecodeError:
            sections[section][name] = raw
    return sections


def read_config_file(path: Path | None) -> Sections:
    """The sections of a TOML or JSON file (none without a file); an unknown section is refused, not ignored."""
    if path is None:
        return empty_sections()
    if not path.is_file():
        raise typer.BadParameter(f"--config {path}: no such file")
    try:
        text = path.read_text(encoding="utf-8")
        values = tomllib.loads(text) if path.suffix == ".toml" else json.loads(text)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, json.JSONDecodeError) as error:
        kind = "TOML" if path.suffix == ".toml" else "JSON"
        raise typer.BadParameter(f"--config {path} is not a readable {kind} file: {error}") from None
    if not isinstance(values, dict) or not all(isinstance(values[name], dict) for name in values):
        raise typer.BadParameter(f"--config {path}: expected sections model, data and trainer, each a table")
    unknown = set(values) - set(SECTIONS)
    if unknown:
        raise typer.BadParameter(f"{path}: unknown section(s) {sorted(unknown)}; use model, data and trainer")
    return {section: dict(values.get(section, {})) for section in SECTIONS}


def read_sections(config: Path | None, assignments: list[str] | None) -> Sections:
    """The config file's sections with the ``--set`` assignments over them."""
    sections = read_config_file(config)
    for section, values in parse_assignments(assignments or []).items():
        sections[section].update(values)
    return sections


def trainer_settings(options: Mapping[str, Any]) -> dict[str, Any]:
    """The trainer settings among a command's parsed options (``ctx.params``): only those the user gave.

    An option left out is None (a repeatable one an empty tuple) and sets nothing, so the config
    file and ``--set`` keep their say; ``--no-progress`` turns the progress bar off.
    """
    settings: dict[str, Any] = {}
    for option, setting in TRAINER_OPTIONS.items():
        value = options.get(option)
        if value is not None and value != ():
            settings[setting] = list(value) if isinstance(value, tuple) else value
    devices = settings.get("devices")
    if isinstance(devices, str) and devices.isdigit():
        settings["devices"] = int(devices)
    if options.get("no_progress"):
        settings["progress_bar"] = False
    return settings

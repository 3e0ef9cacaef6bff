"""Configs are data: dataclasses to and from the plain dicts that JSON holds."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, TypeVar

from genmodels.errors import ConfigError

T = TypeVar("T")


def dataclass_from_dict(cls: type[T], values: Mapping[str, Any]) -> T:
    """Build ``cls`` from JSON values: unknown and missing keys are refused by name.

    Types and ranges are the dataclass's own to check (see :mod:`genmodels.io.validation`), so a
    config built in code and one read from JSON pass the same checks.
    """
    if not isinstance(values, Mapping):
        raise ConfigError(f"{cls.__name__} must be an object (a JSON mapping), got {type(values).__name__}")
    fields = dataclasses.fields(cls)
    known = {item.name for item in fields}
    unknown = sorted(set(values) - known)
    if unknown:
        options = ", ".join(sorted(known))
        raise ConfigError(f"{cls.__name__} has no option(s) {', '.join(map(str, unknown))}; its options are {options}")
    required = [
        item.name
        for item in fields
        if item.default is dataclasses.MISSING and item.default_factory is dataclasses.MISSING and item.init
    ]
    missing = [name for name in required if name not in values]
    if missing:
        raise ConfigError(f"{cls.__name__} lacks the option(s) {', '.join(missing)}")
    return cls(**values)

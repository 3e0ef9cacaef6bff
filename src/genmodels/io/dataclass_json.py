"""Configs are data: dataclasses to and from the plain dicts that JSON holds."""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

T = TypeVar("T")


def dataclass_from_dict(cls: type[T], values: Mapping[str, Any]) -> T:
    """Build ``cls`` from JSON values: unknown keys are refused by name, lists become tuples where typed so."""
    known = {item.name for item in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ValueError(
            f"{cls.__name__} has no option(s) {', '.join(unknown)}; its options are {', '.join(sorted(known))}"
        )
    hints = typing.get_type_hints(cls)
    converted = {
        name: tuple(value) if isinstance(value, list) and "tuple" in str(hints.get(name, "")) else value
        for name, value in values.items()
    }
    return cls(**converted)

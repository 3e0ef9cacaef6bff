"""Types and ranges of dataclass fields, checked from their type hints when a config is built or loaded.

A field declares its range in its annotation, ``hidden_dim: PositiveInt = 512``; every field is
also checked against its type: an ``int`` field refuses ``"abc"``, ``2.5`` and ``512.0``, a
``float`` field refuses text and non-finite numbers, ``None`` is refused unless the hint allows it.
JSON's lists become the tuples a hint asks for. A failure is a :class:`ConfigError` naming the
class and field and what was expected.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import types
import typing
from dataclasses import dataclass
from typing import Annotated, Any, Union

from genmodels.errors import ConfigError


@dataclass(frozen=True)
class Range:
    """Bounds of a number: ``minimum`` and ``maximum`` inclusive, ``above`` a strict lower bound."""

    minimum: float | None = None
    maximum: float | None = None
    above: float | None = None

    def check(self, value: float) -> bool:
        return (
            (self.minimum is None or value >= self.minimum)
            and (self.maximum is None or value <= self.maximum)
            and (self.above is None or value > self.above)
        )

    def describe(self) -> str:
        bounds = [(">=", self.minimum), (">", self.above), ("<=", self.maximum)]
        return " and ".join(f"{sign} {bound:g}" for sign, bound in bounds if bound is not None)


PositiveInt = Annotated[int, Range(minimum=1)]
NonNegativeInt = Annotated[int, Range(minimum=0)]
NonNegativeFloat = Annotated[float, Range(minimum=0)]
PositiveFloat = Annotated[float, Range(above=0)]
UnitInterval = Annotated[float, Range(minimum=0, maximum=1)]
Sizes = tuple[PositiveInt, ...]
"""Layer widths, a data shape: positive integers."""
MAX_IMPORTANCE_SAMPLES = 10_000
ImportanceSamples = Annotated[int, Range(minimum=1, maximum=MAX_IMPORTANCE_SAMPLES)]
"""Samples of an importance-weighted likelihood estimate per row: memory is chunked, but time grows with each
one; twice the 5,000 that Burda et al. (2016) evaluate with is the most taken."""


def check_fields(instance: Any) -> None:
    """Check (and convert in place) every field of a dataclass instance against its hint; frozen ones too."""
    cls = type(instance)
    for name, hint in _field_hints(cls).items():
        value = getattr(instance, name)
        checked = check_value(value, hint, f"{cls.__name__}.{name}")
        if checked is not value:
            object.__setattr__(instance, name, checked)


def check_value(value: Any, hint: Any, where: str) -> Any:
    """``value`` as ``hint`` describes it (lists become tuples, ints floats); else a ConfigError naming ``where``."""
    try:
        return _convert(value, hint)
    except _Mismatch:
        raise ConfigError(f"{where}: expected {describe(hint)}, got {_shown(value)}") from None


def describe(hint: Any) -> str:
    """Words for a type hint: ``an integer >= 1``, ``a list of numbers``."""
    origin, arguments = typing.get_origin(hint), typing.get_args(hint)
    if origin is Annotated:
        bounds = " and ".join(item.describe() for item in arguments[1:] if isinstance(item, Range))
        return f"{describe(arguments[0])} {bounds}".strip()
    if origin in (Union, types.UnionType):
        return " or ".join(describe(argument) for argument in arguments)
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(argument) for argument in arguments)
    if origin is tuple:
        if len(arguments) == 2 and arguments[1] is Ellipsis:
            return f"a list of ({describe(arguments[0])})"
        return f"a list of {len(arguments)} items ({', '.join(describe(argument) for argument in arguments)})"
    if origin is list:
        return f"a list of ({describe(arguments[0])})"
    if origin is dict or hint is dict:
        return "an object (a JSON mapping)" + (f" of {describe(arguments[1])}" if arguments else "")
    return _WORDS.get(hint, getattr(hint, "__name__", str(hint)))


_WORDS = {int: "an integer", float: "a finite number", bool: "true or false", str: "text", type(None): "null"}


class _Mismatch(Exception):
    """A value does not fit its hint (internal: turned into a ConfigError naming the field)."""


def _convert(value: Any, hint: Any) -> Any:
    origin, arguments = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return value
    if origin is Annotated:
        converted = _convert(value, arguments[0])
        if not all(item.check(converted) for item in arguments[1:] if isinstance(item, Range)):
            raise _Mismatch
        return converted
    if origin in (Union, types.UnionType):
        for argument in arguments:
            try:
                return _convert(value, argument)
            except _Mismatch:
                continue
        raise _Mismatch
    if origin is typing.Literal:
        if value not in arguments:
            raise _Mismatch
        return value
    if hint is type(None):
        if value is not None:
            raise _Mismatch
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise _Mismatch
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Mismatch
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise _Mismatch
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise _Mismatch
        return value
    if origin is tuple or origin is list:
        if not isinstance(value, (list, tuple)):
            raise _Mismatch
        if origin is tuple and not (len(arguments) == 2 and arguments[1] is Ellipsis):
            if len(value) != len(arguments):
                raise _Mismatch
            items = [_convert(item, argument) for item, argument in zip(value, arguments, strict=True)]
        else:
            items = [_convert(item, arguments[0]) for item in value]
        return tuple(items) if origin is tuple else items
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            raise _Mismatch
        if not arguments:
            return value
        return {_convert(key, arguments[0]): _convert(item, arguments[1]) for key, item in value.items()}
    raise TypeError(f"no check for the type hint {hint!r}")


@functools.cache
def _field_hints(cls: type) -> dict[str, Any]:
    hints = typing.get_type_hints(cls, include_extras=True)
    return {field.name: hints[field.name] for field in dataclasses.fields(cls)}


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."

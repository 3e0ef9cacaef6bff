"""Parameter and module names matched against patterns, as freezing, fine-tuning and LoRA select them."""

from __future__ import annotations

from collections.abc import Iterable
from fnmatch import fnmatchcase


def name_matches(name: str, patterns: Iterable[str]) -> bool:
    """Whether a parameter or module name falls under a pattern (``fnmatch``, or a module prefix of it)."""
    return any(fnmatchcase(name, pattern) or fnmatchcase(name, f"{pattern}.*") for pattern in patterns)

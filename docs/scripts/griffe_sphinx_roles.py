"""Render the Sphinx roles of genmodels docstrings as links in the API reference.

The docstrings use roles such as ``:class:`~genmodels.models.base.GenerativeModel``` and
``:meth:`sample```. This griffe extension, loaded by mkdocstrings (see ``mkdocs.yml``), rewrites
each role into an optional cross-reference: a link where the target is documented on the site,
plain code where it is not. A leading ``~`` shows only the last part of the name; names without a
dot are looked up from the documented object outwards (its members, then its parents').
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|mod|attr|data|obj|exc|const):`(?P<target>[^`]+)`")


def _resolve(obj: griffe.Object, target: str) -> str:
    """The full path of ``target`` as seen from ``obj``; ``target`` itself where it is already dotted."""
    if target.startswith("genmodels."):
        return target
    head = target.split(".", 1)[0]
    scope: Any = obj
    while scope is not None:
        try:
            if head in scope.members:
                return f"{scope.path}.{target}"
        except Exception:  # aliases that cannot be resolved have no members to look in
            pass
        scope = scope.parent
    return target


def _replace(obj: griffe.Object, match: re.Match[str]) -> str:
    target = match.group("target").strip()
    short = target.startswith("~")
    target = target.lstrip("~").strip("()")
    shown = target.rsplit(".", 1)[-1] if short else target
    identifier = _resolve(obj, target)
    return f'<autoref identifier="{identifier}" optional><code>{shown}</code></autoref>'


class SphinxRoles(griffe.Extension):
    """Rewrite Sphinx cross-reference roles in every docstring into optional autorefs."""

    def on_package(self, *, pkg: griffe.Module, **kwargs: Any) -> None:
        stack: list[griffe.Object] = [pkg]
        while stack:
            obj = stack.pop()
            if obj.docstring is not None and ":`" in obj.docstring.value:
                obj.docstring.value = _ROLE.sub(lambda match, obj=obj: _replace(obj, match), obj.docstring.value)
            stack.extend(member for member in obj.members.values() if not member.is_alias)

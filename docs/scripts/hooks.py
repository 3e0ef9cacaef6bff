"""MkDocs hooks for the genmodels site (see ``hooks`` in ``mkdocs.yml``).

- A reference page that holds ``<!-- modules: genmodels.PACKAGE -->`` gets one mkdocstrings block
  per module below that package, found in ``src/`` at build time, so a new or renamed module
  needs no change to the documentation. A subpackage shows its docstring only; its modules
  follow, so names it re-exports are documented once.
- The command line's help texts escape square brackets for rich (``\\[default: ...]``) so the
  terminal shows them; the CLI reference shows the same texts without the escapes.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

_MODULES_MARKER = re.compile(r"^<!-- modules: (?P<package>[\w.]+) -->$", re.MULTILINE)


def _modules_below(source: Path, package: str) -> list[str]:
    """Every public module and subpackage below ``package``, depth first, in name order; packages end in ``/``."""
    folder = source.joinpath(*package.split("."))
    if not (folder / "__init__.py").is_file():
        raise ValueError(f"{package} is not a package under {source}")
    modules: list[str] = []
    for path in sorted(folder.iterdir()):
        if path.name.startswith(("_", ".")):
            continue
        if path.suffix == ".py":
            modules.append(f"{package}.{path.stem}")
        elif (path / "__init__.py").is_file():
            modules.append(f"{package}.{path.name}/")
            modules.extend(_modules_below(source, f"{package}.{path.name}"))
    return modules


def on_page_markdown(markdown: str, page: Any, config: Any, **kwargs: Any) -> str:
    source = Path(config["config_file_path"]).parent / "src"

    def block(module: str) -> str:
        if module.endswith("/"):  # a subpackage: its docstring here, its modules after it (no re-exports twice)
            return f"::: {module[:-1]}\n    options:\n      members: false"
        return f"::: {module}"

    def blocks(match: re.Match[str]) -> str:
        return "\n\n".join(block(module) for module in _modules_below(source, match.group("package")))

    return _MODULES_MARKER.sub(blocks, markdown)


def on_page_content(html: str, page: Any, **kwargs: Any) -> str:
    if page.file.src_uri == "cli.md":
        return html.replace("\\[", "[")
    return html

"""Crash-safe file writing and content hashes, shared by model saving and checkpoints."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from genmodels.errors import GenmodelsError, OutputError


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success rename it over ``path``.

    A process killed mid-write leaves the old file intact, never a truncated one; an error removes
    the temporary, and a temporary left by a killed process is removed when its run directory is
    next claimed (:mod:`genmodels.io.run_directory`). The file gets the mode any new file gets under
    the process's umask (``mkstemp`` alone would leave it 600).
    """
    target = Path(path)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    except OSError as error:
        raise OutputError(f"cannot write {target}: {error.strerror or error}") from None
    os.close(handle)
    try:
        yield Path(temporary)
        with open(temporary, "rb") as written:
            os.fsync(written.fileno())
        os.chmod(temporary, new_file_mode())
        os.replace(temporary, target)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def new_file_mode() -> int:
    """The mode ``open`` gives a new file: 666 less the umask (read by setting it and putting it back)."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as temporary:
        temporary.write_text(text, encoding="utf-8")


def sha256_file(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_json(path: str | os.PathLike, what: str = "a JSON file") -> Any:
    """The parsed JSON of ``path``; a missing, unreadable or malformed file is refused with its name."""
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise GenmodelsError(f"{path} is missing; expected {what}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise GenmodelsError(f"{path} is not valid JSON ({error}); expected {what}") from None
    except OSError as error:
        raise GenmodelsError(f"cannot read {path}: {error.strerror or error}") from None

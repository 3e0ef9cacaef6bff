"""One process at a time per run directory: an exclusive lock, refusal of someone else's files, stale temporaries.

Every command that writes a run, or writes into one, claims its directory first. The claim holds an
operating-system lock (:mod:`filelock`, ``flock`` on POSIX) on ``RUN/.genmodels.lock``: the kernel
lets it go when the process ends, however it ends, so a killed run never leaves its directory
locked. The lock file records who holds it (process, host, command, start time) so a refused
command can say so. A claim for a new run refuses a directory that already holds files; a claim
made while the process already holds the directory (a command that trains a run and then writes
its detector) is granted at once. In a multi-process launch only the main process claims: the
others work inside the claim it holds.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from filelock import FileLock, Timeout

from genmodels.errors import RunDirectoryBusyError, RunDirectoryError, RunDirectoryExistsError

LOCK_NAME = ".genmodels.lock"
TEMPORARY_PATTERN = ".*.tmp"
"""What :func:`genmodels.io.files.atomic_path` names its temporaries; a killed write leaves one behind."""
RUN_MARKERS = (LOCK_NAME, "run.json")
"""Files whose presence makes a directory a run directory, for an output written somewhere inside one."""

_held: dict[Path, int] = {}
"""Directories this process holds, with how many claims are open on each."""


@contextlib.contextmanager
def claim_run_directory(directory: str | os.PathLike, new: bool = True, refusal_hint: str = "") -> Iterator[Path]:
    """Hold ``directory`` for this process; with ``new``, refuse it if it already holds files.

    The directory is created if missing. When the claim ends with an error, what it created goes
    again: the lock file, and the directory if nothing else was written into it, so a command
    refused for a bad option or bad data leaves nothing behind. Stale temporaries of killed atomic
    writes are removed once the lock is held. ``refusal_hint`` ends the message of a refused
    existing directory ("pass --resume to continue it").
    """
    path = Path(directory).absolute()
    if path in _held or not _is_main_process():
        _held[path] = _held.get(path, 0) + 1
        try:
            yield path
        finally:
            _release_count(path)
        return
    created = _make_directory(path)
    lock_created = not (path / LOCK_NAME).exists()
    lock = FileLock(path / LOCK_NAME, timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise RunDirectoryBusyError(
            f"{path} is in use by another genmodels process{_describe_holder(path)}; "
            "wait for it to finish, or choose another directory"
        ) from None
    except OSError as error:
        raise RunDirectoryError(f"cannot lock {path}: {error.strerror or error}") from None
    _held[path] = 1
    succeeded = False
    try:
        if new:
            _refuse_existing_files(path, refusal_hint)
        _record_holder(path)
        remove_stale_temporaries(path)
        yield path
        succeeded = True
    finally:
        _release_count(path)
        if not succeeded and lock_created:
            (path / LOCK_NAME).unlink(missing_ok=True)
            if created and not any(path.iterdir()):
                with contextlib.suppress(OSError):
                    path.rmdir()
        lock.release()


@contextlib.contextmanager
def claim_output(path: str | os.PathLike) -> Iterator[None]:
    """Hold the run directory an output file is written into, if it lies in one; otherwise nothing to hold."""
    run_directory = enclosing_run_directory(Path(path))
    if run_directory is None:
        yield
        return
    with claim_run_directory(run_directory, new=False):
        yield


def enclosing_run_directory(path: Path) -> Path | None:
    """The nearest directory above ``path`` (or ``path`` itself) that is a run directory, if any."""
    for candidate in (path, *path.absolute().parents):
        if candidate.is_dir() and any((candidate / marker).is_file() for marker in RUN_MARKERS):
            return candidate
    return None


def remove_stale_temporaries(directory: Path) -> list[Path]:
    """Delete what killed atomic writes left under ``directory`` (their temporaries are never reused)."""
    stale = [path for path in directory.rglob(TEMPORARY_PATTERN) if path.is_file()]
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


def _is_main_process() -> bool:
    """False in the worker processes of a multi-process launch (Lightning's launcher, torchrun, SLURM).

    The launchers name each process's rank in the environment; these are the variables Lightning
    reads, in its order.
    """
    for name in ("RANK", "LOCAL_RANK", "SLURM_PROCID", "JSM_NAMESPACE_RANK"):
        if name in os.environ:
            return os.environ[name].strip() in ("", "0")
    return True


def _release_count(path: Path) -> None:
    _held[path] -= 1
    if not _held[path]:
        del _held[path]


def _make_directory(path: Path) -> bool:
    """Create ``path`` (and its parents); True if this call created it. Unwritable places are named."""
    if path.exists() and not path.is_dir():
        raise RunDirectoryError(f"{path} is a file, not a directory; choose a directory for the run")
    if path.is_dir():
        return False
    try:
        path.mkdir(parents=True)
    except FileExistsError:
        return False
    except OSError as error:
        raise RunDirectoryError(f"cannot create {path}: {error.strerror or error}") from None
    return True


def _refuse_existing_files(path: Path, hint: str) -> None:
    present = sorted(entry.name for entry in path.iterdir() if entry.name != LOCK_NAME)
    if present:
        shown = ", ".join(present[:4]) + (", ..." if len(present) > 4 else "")
        raise RunDirectoryExistsError(
            f"{path} already holds files ({shown}); it is left as it is: {hint or 'choose another directory'}"
        )


def _record_holder(path: Path) -> None:
    """Write who holds the lock into the lock file; a refused process reads it to name the holder."""
    holder = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "command": " ".join([_program_name(), *sys.argv[1:]]),
        "since": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
    }
    with contextlib.suppress(OSError):
        descriptor = os.open(path / LOCK_NAME, os.O_WRONLY)
        try:
            os.ftruncate(descriptor, 0)
            os.write(descriptor, json.dumps(holder).encode())
        finally:
            os.close(descriptor)


def _program_name() -> str:
    """``genmodels`` for the console script and for ``python -m genmodels``; else the script's name."""
    program = Path(sys.argv[0]) if sys.argv and sys.argv[0] else Path("python")
    return program.parent.name if program.name == "__main__.py" else program.name


def _describe_holder(path: Path) -> str:
    """`` (pid 123 on host, `genmodels train ...`, since ...)`` from the lock file, or nothing if unreadable."""
    try:
        holder = json.loads((path / LOCK_NAME).read_text(encoding="utf-8"))
        return f" (pid {holder['pid']} on {holder['host']}: `{holder['command']}`, since {holder['since']})"
    except (OSError, ValueError, KeyError, TypeError):
        return ""

"""The fuzz suite's judge: run a command as a user would and name what happened.

A command may succeed, or fail with one line: a genmodels error, or a usage error from the
command-line parser. Anything else is a defect: another exception type (a traceback), a command
still running past its time limit (a hang), or a file changed that the command had no business
touching (data lost). ``GENMODELS_FUZZ_LOG`` names a JSON-lines file that receives every outcome,
which ``benchmarks/robustness.py`` counts.
"""

from __future__ import annotations

import hashlib
import json
import multiprocessing
import os
import resource
import signal
from collections.abc import Callable, Iterable, Sequence
from contextlib import suppress
from dataclasses import asdict, dataclass
from pathlib import Path

from typer.testing import CliRunner

from genmodels.cli.main import app
from genmodels.errors import GenmodelsError

SUCCESS = "success"
CLEAR_ERROR = "clear error"
TRACEBACK = "traceback"
HANG = "hang"
DATA_LOST = "data lost"
ACCEPTABLE = (SUCCESS, CLEAR_ERROR)


@dataclass(frozen=True)
class Outcome:
    case: str
    kind: str
    detail: str

    @property
    def acceptable(self) -> bool:
        return self.kind in ACCEPTABLE


def fingerprint(paths: Iterable[Path]) -> dict[str, str]:
    """SHA-256 of every file under ``paths``: what a command must leave exactly as it found it."""
    digests = {}
    for root in paths:
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in files:
            digests[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


def _classify(result) -> tuple[str, str]:
    """Sort a CliRunner result into success, clear error or traceback, with the line a user saw."""
    error = result.exception
    if error is None or (isinstance(error, SystemExit) and error.code == 0):
        return (SUCCESS, "") if result.exit_code == 0 else (CLEAR_ERROR, result.output.strip()[-300:])
    if isinstance(error, SystemExit):  # the parser's usage errors (exit 2) and typer.Exit: a message was printed
        return CLEAR_ERROR, result.output.strip()[-300:]
    message = str(error)
    if isinstance(error, GenmodelsError) and message.strip() and "\n" not in message.strip():
        return CLEAR_ERROR, message
    return TRACEBACK, f"{type(error).__name__}: {message[:300]}"


# Each case runs in a child forked from a server that has already imported torch and the CLI: cheap to
# start, free of what earlier cases left behind, and killable with everything it started.
_CONTEXT = multiprocessing.get_context("forkserver")
_CONTEXT.set_forkserver_preload(["torch", "pandas", "genmodels.cli.main"])
MEMORY_LIMIT_BYTES = 8 * 2**30


def _run_in_child(connection, function: Callable[..., object], arguments: tuple) -> None:
    os.setpgrp()  # one process group: a hang is killed with the data-loading workers it started
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT_BYTES, MEMORY_LIMIT_BYTES))
    try:
        outcome = function(*arguments)
    except BaseException as error:  # noqa: BLE001 - the judge's own failure is reported, not lost
        outcome = (TRACEBACK, f"{type(error).__name__} in the command's process: {str(error)[:300]}")
    connection.send(outcome)


def _invoke_cli(arguments: list[str]) -> tuple[str, str]:
    return _classify(CliRunner().invoke(app, arguments))


def _call(function: Callable[..., object], arguments: tuple) -> tuple[str, str]:
    try:
        function(*arguments)
    except GenmodelsError as error:
        one_line = str(error).strip() and "\n" not in str(error).strip()
        return (CLEAR_ERROR if one_line else TRACEBACK), str(error)[:300]
    except Exception as error:  # noqa: BLE001 - judging every other exception is the point
        return TRACEBACK, f"{type(error).__name__}: {str(error)[:300]}"
    return SUCCESS, ""


def _judge(case: str, function: Callable[..., object], arguments: tuple, untouched: Iterable[Path], seconds: int):
    untouched = list(untouched)
    before = fingerprint(untouched)
    receiver, sender = _CONTEXT.Pipe(duplex=False)
    child = _CONTEXT.Process(target=_run_in_child, args=(sender, function, arguments))
    child.start()
    sender.close()
    try:
        kind, detail = receiver.recv() if receiver.poll(seconds) else (HANG, f"still running after {seconds} s")
    except EOFError:
        kind, detail = TRACEBACK, "the process died without an answer"
    with suppress(ProcessLookupError):
        os.killpg(child.pid, signal.SIGKILL)
    child.join()
    if kind == TRACEBACK and child.exitcode not in (0, None, -signal.SIGKILL):
        detail = f"{detail} (exit code {child.exitcode})"
    if fingerprint(untouched) != before:
        kind, detail = DATA_LOST, f"changed files under {', '.join(map(str, untouched))}"
    outcome = Outcome(case, kind, detail)
    record(outcome)
    return outcome


def judge(case: str, args: Sequence[object], untouched: Iterable[Path] = (), seconds: int = 120) -> Outcome:
    """Run ``genmodels ARGS`` as a user would and judge it; ``untouched`` files must not change."""
    return _judge(case, _invoke_cli, ([str(arg) for arg in args],), untouched, seconds)


def judge_call(
    case: str, function: Callable[..., object], *arguments: object, untouched: Iterable[Path] = (), seconds: int = 120
) -> Outcome:
    """The same judgement for a Python call a script would make, e.g. ``genmodels.load(path)``."""
    return _judge(case, _call, (function, arguments), untouched, seconds)


def record(outcome: Outcome) -> None:
    """Append the outcome to ``GENMODELS_FUZZ_LOG`` when the report script asks for it."""
    log = os.environ.get("GENMODELS_FUZZ_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as stream:
            stream.write(json.dumps(asdict(outcome)) + "\n")


def assert_acceptable(outcome: Outcome) -> None:
    """Fail the example, unless ``GENMODELS_FUZZ_RECORD_ONLY`` asks to count every case instead of stopping."""
    if not os.environ.get("GENMODELS_FUZZ_RECORD_ONLY"):
        assert outcome.acceptable, f"{outcome.case}: {outcome.kind}: {outcome.detail}"

"""Progress of long work: a rich bar on a terminal, and a plain line every few seconds in a log.

Training, the final evaluation, sampling and feature extraction all report through
:class:`PhaseProgress`, so a run that writes to a file or a pipe shows what it is doing too.
"""

from __future__ import annotations

import os
import threading
import time
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Column

LOG_SECONDS_VARIABLE = "GENMODELS_PROGRESS_SECONDS"
DEFAULT_LOG_SECONDS = 30.0
"""Seconds between two progress lines when the output is not a terminal (``GENMODELS_PROGRESS_SECONDS``)."""
BAR_WIDTH = 20
"""Narrow enough that the counts, the clocks and a loss fit on an 80-column terminal."""

progress_console = Console(stderr=True)
"""Where progress goes: standard error, so the results a command prints to standard output stay clean."""


def log_interval() -> float:
    return float(os.environ.get(LOG_SECONDS_VARIABLE, DEFAULT_LOG_SECONDS))


def format_duration(seconds: float) -> str:
    """``1 h 46 min``, ``3 min 20 s``, ``42 s``: a duration as a person reads it."""
    seconds = round(seconds)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min"
    return f"{minutes} min {seconds} s" if minutes else f"{seconds} s"


class PhaseProgress:
    """One phase of work counted in ``total`` units, shown while it runs.

    On a terminal a rich bar (elapsed time, time left, and a short text such as the latest losses);
    elsewhere a line ``description: done/total unit, elapsed, about ... left`` every
    :func:`log_interval` seconds from a background thread (so a single slow call shows up too),
    and a closing line once any was written.
    """

    def __init__(
        self,
        description: str,
        total: int,
        unit: str = "",
        completed: int = 0,
        enabled: bool = True,
        transient: bool = False,
        console: Console | None = None,
    ) -> None:
        self.description, self.total, self.unit = description, total, unit
        self.completed, self.start_completed, self.text = completed, completed, ""
        self.console = console or progress_console
        self.started = time.perf_counter()
        self.lines_written = 0
        self._bar: Progress | None = None
        self._stop = threading.Event()
        self._logger: threading.Thread | None = None
        if not enabled:
            return
        if self.console.is_terminal:
            fixed = {"no_wrap": True}
            self._bar = Progress(
                TextColumn(f"[bold]{description}", table_column=Column(**fixed)),
                BarColumn(bar_width=BAR_WIDTH),
                MofNCompleteColumn(table_column=Column(**fixed)),
                TimeElapsedColumn(table_column=Column(**fixed)),
                TimeRemainingColumn(table_column=Column(**fixed)),
                # the only column that gives way on a narrow terminal: the latest losses end in an ellipsis
                TextColumn("{task.fields[text]}", table_column=Column(no_wrap=True, overflow="ellipsis", ratio=1)),
                console=self.console,
                transient=transient,
                expand=True,
            )
            self._task = self._bar.add_task(description, total=total, completed=completed, text="")
            self._bar.start()
        else:
            self._logger = threading.Thread(target=self._log_periodically, args=(log_interval(),), daemon=True)
            self._logger.start()

    def update(self, completed: int, text: str | None = None) -> None:
        self.completed = completed
        if text is not None:
            self.text = text
        if self._bar is not None:
            self._bar.update(self._task, completed=completed, text=self.text)

    def advance(self, amount: int = 1) -> None:
        self.update(self.completed + amount)

    def status_line(self) -> str:
        """``description: 120/5000 steps (2%), 1 min 5 s elapsed, about 45 min left  text``."""
        elapsed = time.perf_counter() - self.started
        share = f" ({100 * self.completed / self.total:.0f}%)" if self.total else ""
        line = f"{self.description}: {self.completed}/{self.total} {self.unit}".rstrip() + share
        line += f", {format_duration(elapsed)} elapsed"
        done = self.completed - self.start_completed
        if 0 < done and self.completed < self.total:
            line += f", about {format_duration(elapsed / done * (self.total - self.completed))} left"
        return f"{line}  {self.text}".rstrip()

    def _log_periodically(self, interval: float) -> None:
        while not self._stop.wait(interval):
            self._write(self.status_line())

    def _write(self, line: str) -> None:
        self.console.print(line, highlight=False, markup=False, soft_wrap=True)
        self.lines_written += 1

    def close(self) -> None:
        if self._bar is not None:
            self._bar.stop()
        if self._logger is not None:
            self._stop.set()
            self._logger.join()
            if self.lines_written:
                self._write(f"{self.description}: done in {format_duration(time.perf_counter() - self.started)}")

    def __enter__(self) -> PhaseProgress:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

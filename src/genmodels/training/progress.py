"""A rich progress bar with the latest losses, shown by the main process only."""

from __future__ import annotations

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn


class TrainingProgress:
    def __init__(self, total_steps: int, start_step: int, enabled: bool) -> None:
        self._progress = (
            Progress(
                TextColumn("[bold]training"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                TextColumn("{task.fields[losses]}"),
            )
            if enabled
            else None
        )
        if self._progress is not None:
            self._task = self._progress.add_task("train", total=total_steps, completed=start_step, losses="")
            self._progress.start()

    def advance(self, step: int) -> None:
        if self._progress is not None:
            self._progress.update(self._task, completed=step)

    def show_losses(self, losses: dict[str, float]) -> None:
        if self._progress is not None:
            text = "  ".join(f"{name} {value:.4g}" for name, value in losses.items() if name != "learning_rate")
            self._progress.update(self._task, losses=text)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()

"""Training progress, shown by the main process only: a bar with the latest losses, and a warning when the
run, at the speed of its first steps, will take long."""

from __future__ import annotations

import time

from genmodels.io.progress import PhaseProgress, format_duration

LONG_RUN_SECONDS = 15 * 60
"""A run expected to train longer than this is announced with the settings that shorten it."""
SPEED_SAMPLE_SECONDS = 5.0
SPEED_SAMPLE_STEPS = 50
"""The speed is measured once the first steps took this long, or this many steps ran, whichever comes first."""


class TrainingProgress:
    def __init__(
        self, total_steps: int, start_step: int, is_main: bool, show_bar: bool, max_seconds: float | None = None
    ) -> None:
        self.total_steps, self.start_step, self.max_seconds = total_steps, start_step, max_seconds
        self.is_main = is_main
        self.phase = PhaseProgress("training", total_steps, "steps", completed=start_step, enabled=is_main and show_bar)
        self.started = time.perf_counter()
        self.speed_checked = not is_main

    def advance(self, step: int, seconds_trained: float = 0.0) -> None:
        self.phase.update(step)
        if not self.speed_checked:
            self._warn_if_long(step, seconds_trained)

    def show_losses(self, losses: dict[str, float]) -> None:
        shown = {
            name: value for name, value in losses.items() if name not in ("learning_rate", "seconds", "data_wait_share")
        }
        text = "  ".join(f"{name} {value:.4g}" for name, value in shown.items())
        if "data_wait_share" in losses:
            text += f"  data wait {losses['data_wait_share']:.0%}"
        self.phase.update(self.phase.completed, text)

    def expected_seconds_left(self, step: int, seconds_trained: float) -> float:
        """Seconds until ``max_steps`` at this session's speed so far, capped by what is left of ``max_seconds``."""
        seconds_per_step = (time.perf_counter() - self.started) / max(1, step - self.start_step)
        left = (self.total_steps - step) * seconds_per_step
        if self.max_seconds is not None:
            left = min(left, max(0.0, self.max_seconds - seconds_trained))
        return left

    def _warn_if_long(self, step: int, seconds_trained: float) -> None:
        steps_done = step - self.start_step
        if time.perf_counter() - self.started < SPEED_SAMPLE_SECONDS and steps_done < SPEED_SAMPLE_STEPS:
            return
        self.speed_checked = True
        left = self.expected_seconds_left(step, seconds_trained)
        if left > LONG_RUN_SECONDS:
            seconds_per_step = (time.perf_counter() - self.started) / max(1, steps_done)
            self.phase.console.print(
                f"[yellow]warning:[/] at {seconds_per_step:.2g} s per step, the remaining "
                f"{self.total_steps - step} steps take about {format_duration(left)}; shorten the run with "
                "--max-steps or --max-seconds (trainer max_steps, max_seconds), or make a first try with --quick",
                highlight=False,
            )

    def close(self) -> None:
        self.phase.close()

"""The loss history of a run as a CSV file, one row per logged step and split.

Columns: ``step``, ``split`` (``train`` or ``validation``), then each metric, the learning rate and
``seconds`` (wall clock since this process started training); cells of metrics a row does not
have are empty. On resume, rows after the checkpoint's step are dropped so the
file reads as if the run had never stopped. Between log lines the losses are summed on the
device (:class:`RunningMeans`), so a log line costs one synchronisation, not one per step.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping
from pathlib import Path

import torch


class HistoryWriter:
    def __init__(self, path: str | Path, metrics: list[str], resume_step: int | None = None) -> None:
        self.path = Path(path)
        self.columns = ["step", "split", *metrics]
        kept_rows: list[dict[str, str]] = []
        if resume_step is not None and self.path.is_file():
            kept_rows = [row for row in read_history(self.path) if int(row["step"]) <= resume_step]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._stream = self.path.open("w", newline="", encoding="utf-8")
        self._writer = csv.DictWriter(self._stream, fieldnames=self.columns, extrasaction="ignore")
        self._writer.writeheader()
        self._writer.writerows(kept_rows)
        self._stream.flush()

    def write(self, step: int, split: str, metrics: dict[str, float]) -> None:
        row = {"step": step, "split": split}
        row.update({name: f"{value:.6g}" for name, value in metrics.items() if not math.isnan(value)})
        self._writer.writerow(row)
        self._stream.flush()

    def close(self) -> None:
        self._stream.close()


class RunningMeans:
    """Sums of each logged loss since the last log line, kept on the device to avoid syncs."""

    def __init__(self) -> None:
        self.sums: dict[str, torch.Tensor] = {}
        self.counts: dict[str, int] = {}

    def add(self, losses: Mapping[str, torch.Tensor]) -> None:
        for name, value in losses.items():
            self.sums[name] = self.sums.get(name, 0.0) + value.detach().float()
            self.counts[name] = self.counts.get(name, 0) + 1

    def pop_means(self) -> dict[str, float]:
        means = {name: float(total) / self.counts[name] for name, total in self.sums.items()}
        self.sums, self.counts = {}, {}
        return means


def read_history(path: str | Path) -> list[dict[str, str]]:
    with Path(path).open(newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))

"""Training batches in the schedule's order, from memory or read by DataLoader workers, with the time spent waiting.

In-memory columns are indexed directly. Streamed columns (:class:`~genmodels.data.streaming.StreamingColumn`)
are read by ``data_workers`` processes a few batches ahead; each worker returns raw rows (uint8 images)
and the training process turns them into float32, so the batch holds what the in-memory tensor would.
Both follow :class:`~genmodels.training.batches.BatchSchedule`, which makes batch ``k`` a function of
``k`` alone: a resumed run starts reading at its checkpoint's batch number and sees the same batches.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from genmodels.training.batches import BatchSchedule, take

PREFETCH_BATCHES = 4
"""Batches each worker reads ahead of the training loop."""


def is_streamed(columns: Mapping[str, Any]) -> bool:
    """Whether any column is read on demand rather than held as a tensor."""
    return any(not isinstance(column, torch.Tensor) for column in columns.values())


class ScheduledBatches:
    """The training loop's batches from ``first_batch`` on, and the seconds the loop waited for them."""

    def __init__(
        self,
        columns: Mapping[str, Any],
        schedule: BatchSchedule,
        first_batch: int,
        workers: int,
        to_device: Callable[[dict[str, torch.Tensor]], dict[str, torch.Tensor]],
    ) -> None:
        self.columns, self.schedule, self.to_device = columns, schedule, to_device
        self.next_batch_number = first_batch
        self.waited = 0.0
        self.skipped = 0
        """Corrupt rows left out so far (only with the data spec's ``skip_corrupt``)."""
        self._streamed: Iterator[dict[str, Any]] | None = None
        if is_streamed(columns):
            loader = DataLoader(
                _RowReader(columns),
                batch_sampler=_ScheduleSampler(schedule, first_batch),
                num_workers=workers,
                collate_fn=_as_is,
                prefetch_factor=PREFETCH_BATCHES if workers else None,
            )
            self._streamed = iter(loader)

    def next(self) -> dict[str, torch.Tensor]:
        started = time.perf_counter()
        if self._streamed is None:
            batch = take(self.columns, self.schedule.indices(self.next_batch_number))
        else:
            raw = next(self._streamed)
            self.skipped += raw.pop("_skipped")
            batch = {
                name: column.to_float(raw[name]) if hasattr(column, "to_float") else raw[name]
                for name, column in self.columns.items()
            }
        batch = self.to_device(batch)
        self.next_batch_number += 1
        self.waited += time.perf_counter() - started
        return batch

    def close(self) -> None:
        """Stop the workers (they are also stopped when the object is collected)."""
        self._streamed = None


class _ScheduleSampler:
    """Index lists of batch ``first``, ``first + 1``, ...: the DataLoader's batch sampler."""

    def __init__(self, schedule: BatchSchedule, first: int) -> None:
        self.schedule, self.first = schedule, first

    def __iter__(self) -> Iterator[list[int]]:
        for batch_number in itertools.count(self.first):
            yield self.schedule.indices(batch_number).tolist()


class _RowReader(Dataset):
    """Reads a whole batch of rows at once (``__getitems__``), in a worker process."""

    def __init__(self, columns: Mapping[str, Any]) -> None:
        self.columns = dict(columns)

    def __len__(self) -> int:
        return len(next(iter(self.columns.values())))

    def __getitem__(self, index: int) -> dict[str, Any]:
        return self.__getitems__([index])

    def __getitems__(self, indices: list[int]) -> dict[str, Any]:
        positions = torch.tensor(indices)
        read = np.ones(len(indices), dtype=bool)
        raw: dict[str, Any] = {}
        for name, column in self.columns.items():
            if hasattr(column, "read_raw"):
                rows, column_read = column.read_raw(positions)
                raw[name], read = rows, read & column_read
            else:
                raw[name] = column[positions]
        kept = torch.from_numpy(read)
        batch = {
            name: torch.from_numpy(np.ascontiguousarray(value[read])) if isinstance(value, np.ndarray) else value[kept]
            for name, value in raw.items()
        }
        batch["_skipped"] = int((~read).sum())
        return batch


def _as_is(batch: dict[str, Any]) -> dict[str, Any]:
    return batch

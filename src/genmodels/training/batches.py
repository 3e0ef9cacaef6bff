"""Which examples each process trains on, as a pure function of the batch number.

Every epoch is one seeded permutation of the training set, cut into global batches of
``batch_size * world_size``; process ``rank`` takes every ``world_size``-th example of each global
batch. So batch ``k`` is the same whether a run was resumed or not, and two processes with batch
``b`` see exactly the examples one process with batch ``2b`` sees.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from genmodels.errors import DataError


class BatchSchedule:
    def __init__(self, size: int, batch_size: int, world_size: int, rank: int, seed: int) -> None:
        self.global_batch_size = batch_size * world_size
        if size < self.global_batch_size:
            raise DataError(
                f"the training set has {size} examples, fewer than one global batch "
                f"({batch_size} per process x {world_size} processes); lower batch_size"
            )
        self.batches_per_epoch = size // self.global_batch_size
        self.size, self.world_size, self.rank, self.seed = size, world_size, rank, seed
        self._epoch: int | None = None
        self._permutation = torch.empty(0, dtype=torch.long)

    def indices(self, batch_number: int) -> torch.Tensor:
        epoch, position = divmod(batch_number, self.batches_per_epoch)
        if epoch != self._epoch:
            generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._permutation = torch.randperm(self.size, generator=generator)
            self._epoch = epoch
        start = position * self.global_batch_size
        global_batch = self._permutation[start : start + self.global_batch_size]
        return global_batch[self.rank :: self.world_size]


def take(columns: Mapping[str, torch.Tensor], indices: torch.Tensor) -> dict[str, torch.Tensor]:
    """The rows ``indices`` of every column of an in-memory data set."""
    indices = indices.to(next(iter(columns.values())).device)
    return {name: column[indices] for name, column in columns.items()}

"""Dynamic batching: sample requests that arrive together share one forward pass, each keeping its own seed.

Requests wait at most ``window_seconds`` for company (or until ``max_rows`` samples are queued);
then one call of the model draws all their samples at once (Clipper, Crankshaw et al., 2017;
the dynamic batcher of NVIDIA Triton). Each request still gets exactly the samples a lone
request with its seed would get: :class:`RowSeededDraws` splits every random draw of the
batched call by rows, drawing each request's rows from that request's own generator.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Any

import torch
from torch.overrides import TorchFunctionMode

SHAPE_FIRST = {torch.randn, torch.rand, torch.randint}
"""Random draws whose rows are given by a shape argument (``randint`` after its bound)."""
INPUT_FIRST = {torch.multinomial, torch.bernoulli}
"""Random draws with one row per row of their input."""


class RowSeededDraws(TorchFunctionMode):
    """Inside this mode, a random draw with ``generator=marker`` over all rows is drawn block by block.

    ``blocks`` pairs each request's row count with its generator, in the batch's row order; a draw
    whose first dimension is not the batch's row count is refused (the caller then samples alone).
    """

    def __init__(self, marker: torch.Generator, blocks: Sequence[tuple[int, torch.Generator]]) -> None:
        super().__init__()
        self.marker, self.blocks = marker, blocks
        self.rows = sum(count for count, _ in blocks)

    def __torch_function__(self, func, types, args=(), kwargs=None):  # noqa: ANN001 (torch's protocol)
        kwargs = kwargs or {}
        if kwargs.get("generator") is not self.marker:
            return func(*args, **kwargs)
        if func in SHAPE_FIRST:
            return torch.cat([self._draw_shaped(func, args, kwargs, count, own) for count, own in self.blocks])
        if func in INPUT_FIRST:
            source, rest = args[0], args[1:]
            self._check_rows(func, source.shape[0] if source.dim() else 0)
            parts, start = [], 0
            for count, own in self.blocks:
                parts.append(func(source[start : start + count], *rest, **{**kwargs, "generator": own}))
                start += count
            return torch.cat(parts)
        raise UnbatchableDraw(f"{func.__name__} with the batch generator cannot be split by rows")

    def _draw_shaped(self, func, args: tuple, kwargs: dict[str, Any], count: int, own: torch.Generator):  # noqa: ANN001
        bound, shape = (args[:1], args[1:]) if func is torch.randint else ((), args)
        if len(shape) == 1 and isinstance(shape[0], (tuple, list, torch.Size)):
            shape = tuple(shape[0])
        if "size" in kwargs:
            shape = tuple(kwargs.pop("size"))
        self._check_rows(func, int(shape[0]) if shape else 0)
        return func(*bound, (count, *shape[1:]), **{**kwargs, "generator": own})

    def _check_rows(self, func, rows: int) -> None:  # noqa: ANN001
        if rows != self.rows:
            raise UnbatchableDraw(f"{func.__name__} drew {rows} rows, the batch has {self.rows}")


class UnbatchableDraw(RuntimeError):
    """A model drew randomness that does not split by rows; its requests are sampled one by one."""


def sample_together(
    draw: Callable[[int, torch.Generator], Any], requests: Sequence[tuple[int, int]], device: str = "cpu"
) -> list[Any] | None:
    """``draw(n, generator)`` once for all ``(n, seed)`` requests; each one's rows, or None if it cannot split.

    ``draw`` returns a tensor or a list whose first dimension follows the rows.
    """
    marker = torch.Generator()
    blocks = [(n, torch.Generator(device).manual_seed(seed)) for n, seed in requests]
    try:
        with RowSeededDraws(marker, blocks):
            rows = draw(sum(n for n, _ in requests), marker)
    except UnbatchableDraw:
        return None
    parts, start = [], 0
    for n, _ in requests:
        parts.append(rows[start : start + n])
        start += n
    return parts


@dataclass
class PendingSample:
    n: int
    seed: int
    future: asyncio.Future = field(repr=False)


@dataclass
class BatchStats:
    """What the batcher did, for ``/metrics`` and the tests: passes run and rows per pass."""

    passes: int = 0
    batch_sizes: list[int] = field(default_factory=list)


class DynamicBatcher:
    """Queues sample requests and runs them, grouped by control setting, as one call each in ``executor``.

    The model's thread takes the next batch as soon as it is free: requests that arrive while it
    works wait and go together; a request that finds it idle waits ``window_seconds`` for company.
    ``draw`` is the ``draw(n, generator)`` of a request's setting (``key``); ``enabled=False`` runs
    every request on its own (one forward pass per request), to compare.
    """

    def __init__(
        self,
        executor: Executor,
        window_seconds: float = 0.005,
        max_rows: int = 512,
        enabled: bool = True,
        on_batch: Callable[[int, int], None] | None = None,
        device: str = "cpu",
    ) -> None:
        self.executor, self.window_seconds, self.max_rows, self.enabled = executor, window_seconds, max_rows, enabled
        self.on_batch, self.device = on_batch, device
        self.waiting: dict[Hashable, list[PendingSample]] = {}
        self.draws: dict[Hashable, Callable[[int, torch.Generator], Any]] = {}
        self.timer: asyncio.TimerHandle | None = None
        self.busy = False
        self.stats = BatchStats()

    @property
    def queued(self) -> int:
        return sum(len(queue) for queue in self.waiting.values())

    async def sample(self, key: Hashable, draw: Callable[[int, torch.Generator], Any], n: int, seed: int) -> Any:
        """This request's ``n`` rows under ``seed``, drawn together with waiting requests of the same ``key``."""
        loop = asyncio.get_running_loop()
        pending = PendingSample(n, seed, loop.create_future())
        if not self.enabled:
            self._submit(draw, [pending], busy=False)
            return await pending.future
        self.waiting.setdefault(key, []).append(pending)
        self.draws[key] = draw
        if not self.busy:
            if sum(item.n for item in self.waiting[key]) >= self.max_rows:
                self._start_next()
            elif self.timer is None:
                self.timer = loop.call_later(self.window_seconds, self._start_next)
        return await pending.future

    def _start_next(self) -> None:
        """Hand the oldest setting's waiting requests (up to ``max_rows`` samples) to the model's thread."""
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if self.busy or not self.waiting:
            return
        key = next(iter(self.waiting))
        queue, batch, rows = self.waiting[key], [], 0
        while queue and (not batch or rows + queue[0].n <= self.max_rows):
            rows += queue[0].n
            batch.append(queue.pop(0))
        if not queue:
            del self.waiting[key]
        self._submit(self.draws[key], batch, busy=True)

    def _submit(self, draw: Callable[[int, torch.Generator], Any], batch: list[PendingSample], busy: bool) -> None:
        """Run ``batch`` in the model's thread; ``busy``: it is a batch, and the next one waits for it."""
        self.busy = self.busy or busy
        work = asyncio.get_running_loop().run_in_executor(self.executor, self._run, draw, batch)
        work.add_done_callback(lambda done: self._deliver(batch, done, busy))

    def _run(self, draw: Callable[[int, torch.Generator], Any], batch: list[PendingSample]) -> list[Any]:
        """In the worker thread: one pass for the whole batch, or one per request where draws do not split."""
        requests = [(item.n, item.seed) for item in batch]
        parts = sample_together(draw, requests, self.device) if len(batch) > 1 else None
        if parts is None:
            parts = [draw(n, torch.Generator(self.device).manual_seed(seed)) for n, seed in requests]
            self.stats.batch_sizes += [n for n, _ in requests]
            self.stats.passes += len(requests)
        else:
            self.stats.batch_sizes.append(sum(n for n, _ in requests))
            self.stats.passes += 1
        if self.on_batch is not None:
            self.on_batch(len(batch), sum(n for n, _ in requests))
        return parts

    def _deliver(self, batch: list[PendingSample], done: asyncio.Future, was_batch: bool) -> None:
        error = None if done.cancelled() else done.exception()
        for index, item in enumerate(batch):
            if item.future.done():
                continue
            if done.cancelled():
                item.future.cancel()
            elif error is not None:
                item.future.set_exception(error)
            else:
                item.future.set_result(done.result()[index])
        if was_batch:
            self.busy = False
            self._start_next()  # those waiting have waited long enough

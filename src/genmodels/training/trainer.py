"""The training loop, on Lightning Fabric: one loop for every model, driven only by its interface.

Fabric owns devices, data parallelism (DDP, also on CPU with gloo), mixed precision and
multi-node launch (torchrun); this module owns what Fabric leaves to the user: the schedule of
batches, validation, early stopping, checkpoints and logs (optimizers per training phase are
built in :mod:`genmodels.training.optimizers`).
"""

from __future__ import annotations

import logging
import math
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from lightning_fabric import Fabric
from lightning_fabric.loggers import TensorBoardLogger

from genmodels.errors import CheckpointError, DeviceSettingsError, TrainingDivergedError
from genmodels.io.files import atomic_path
from genmodels.models.base import GenerativeModel, TrainingPhase
from genmodels.training.batches import BatchSchedule, take
from genmodels.training.checkpoint import TrainingCheckpoint, load_checkpoint, save_checkpoint
from genmodels.training.config import TrainerConfig
from genmodels.training.freezing import freeze, part_parameters
from genmodels.training.history import HistoryWriter, RunningMeans
from genmodels.training.loader import ScheduledBatches, is_streamed
from genmodels.training.optimizers import make_optimizer, make_scheduler
from genmodels.training.progress import TrainingProgress
from genmodels.training.state import TrainingState

log = logging.getLogger(__name__)

Columns = Mapping[str, torch.Tensor]
Scheduler = torch.optim.lr_scheduler.LambdaLR

CHECKPOINT_NAME = "checkpoints/last.safetensors"
GOOD_CHECKPOINT_NAME = "checkpoints/last_good.safetensors"
"""The last checkpoint written before the model's health checks warned; kept while the warnings last."""
HISTORY_NAME = "history.csv"


@dataclass
class FitResult:
    steps: int
    stopped_early: bool
    best_step: int | None
    best_value: float | None
    validation: dict[str, float]
    seconds: float
    examples_per_second: float
    data_wait_share: float = 0.0
    """Share of this call's wall time the loop spent waiting for training batches: near 1, loading is the
    bottleneck (add ``data_workers``, pack the data, or hold it in memory)."""
    skipped_rows: int = 0
    """Corrupt training rows left out (the data spec's ``skip_corrupt``)."""
    warnings: list[str] = field(default_factory=list)
    """Health warnings raised during validation (divergence, mode collapse), each with its step."""


@dataclass
class _Run:
    """One call of :meth:`Trainer.fit`: the model and its optimizers, the data on its device, logs and counters."""

    fabric: Fabric
    model: GenerativeModel
    fabric_model: torch.nn.Module
    phases: list[TrainingPhase]
    optimizers: list[torch.optim.Optimizer]
    """The optimizers as built, whose state a checkpoint saves; Fabric's wrappers step them."""
    fabric_optimizers: list[torch.optim.Optimizer]
    schedulers: list[Scheduler]
    state: TrainingState
    start_step: int
    validation: Columns | None
    schedule: BatchSchedule
    batches: ScheduledBatches
    history: HistoryWriter | None
    """Written by the first process only."""
    progress: TrainingProgress
    step: int = 0
    started: float = 0.0
    """The clock's zero, moved back by the seconds trained before a resume: ``max_seconds`` is the whole run's."""
    resumed_at: float = 0.0
    running: RunningMeans = field(default_factory=RunningMeans)
    last_log: tuple[float, float] = (0.0, 0.0)
    """Clock and seconds waited for data at the last log line: the wait share is reported per interval."""
    last_validation: dict[str, float] = field(default_factory=dict)
    health_warnings: list[str] = field(default_factory=list)

    @property
    def batches_per_step(self) -> int:
        return sum(phase.steps for phase in self.phases)


def step_seed(seed: int, step: int, rank: int, validation: bool = False) -> int:
    """The random seed of one training step (or validation) on one process: resumed runs replay the same noise."""
    return int(np.random.SeedSequence([seed, int(validation), step, rank]).generate_state(1)[0])


class Trainer:
    """Trains any :class:`GenerativeModel`; writes checkpoints and logs under ``output_dir``."""

    def __init__(
        self,
        config: TrainerConfig,
        output_dir: str | Path,
        progress_view: Callable[[GenerativeModel, int], None] | None = None,
    ) -> None:
        self.config = config
        self.progress_view = progress_view
        """Called on the first process every ``config.sample_grid_every`` validations with the model and step."""
        self.output_dir = Path(output_dir)
        self.checkpoint_path = self.output_dir / CHECKPOINT_NAME
        self.fabric: Fabric | None = None
        self._budget_spent = 0.0
        """Fraction of ``max_seconds`` spent so far (0 without a time budget); the schedulers read it."""

    @property
    def is_global_zero(self) -> bool:
        return self.fabric is None or self.fabric.is_global_zero

    def setup_fabric(self, multiple_phases: bool) -> Fabric:
        """Create and launch Fabric; with ``strategy="ddp"`` this starts the other processes."""
        strategy = self.config.strategy
        if strategy == "ddp" and multiple_phases:
            # Each phase updates only its own parameters, so the others are unused in its backward pass.
            strategy = "ddp_find_unused_parameters_true"
        loggers = (
            [TensorBoardLogger(self.output_dir, name="tensorboard", version="")] if self.config.tensorboard else []
        )
        fabric = self._make_fabric(strategy, loggers)
        fabric.launch()
        self.fabric = fabric
        return fabric

    def check_devices(self) -> None:
        """Refuse, before any work, an accelerator, device count, strategy or precision this machine cannot run."""
        self._make_fabric(self.config.strategy, [])

    def _make_fabric(self, strategy: str, loggers: list[TensorBoardLogger]) -> Fabric:
        config = self.config
        try:
            return Fabric(
                accelerator=config.accelerator,
                devices=config.devices,
                strategy=strategy,
                precision=config.precision,
                num_nodes=config.num_nodes,
                loggers=loggers,
            )
        except (TypeError, ValueError, RuntimeError, ImportError) as error:
            settings = (
                f"accelerator={config.accelerator!r}, devices={config.devices!r}, strategy={strategy!r}, "
                f"precision={config.precision!r}, num_nodes={config.num_nodes!r}"
            )
            message = " ".join(str(error).split())
            raise DeviceSettingsError(f"trainer settings {settings} cannot run here: {message}") from None

    def fit(
        self,
        model: GenerativeModel,
        train: Columns,
        validation: Columns | None = None,
        resume: bool = False,
    ) -> FitResult:
        """Train until ``max_steps``, the time budget or early stopping; with ``resume``, from the last checkpoint.

        The model ends in eval mode, so what it computes next (``log_prob``, ``elbo``, ``score``) is a
        result without autograd state; another ``fit`` puts it back in training mode.
        """
        config = self.config
        run = self._set_up(model, train, validation, resume)
        try:
            while run.step < config.max_steps and not run.state.should_stop and self._budget_spent < 1.0:
                self._train_step(run)
                finished = run.step == config.max_steps or self._budget_spent >= 1.0
                if run.step % config.log_every == 0 or finished:
                    self._log_training(run)
                if run.validation is not None and (run.step % config.val_every == 0 or finished):
                    self._validate_and_watch(run, run.validation)
                if run.step % config.checkpoint_every == 0 or finished or run.state.should_stop:
                    self._save_checkpoint(run.step, run)
                run.progress.advance(run.step, run.state.seconds)
                self._announce_stop(run)
        finally:
            run.batches.close()
            run.progress.close()
            if run.history is not None:
                run.history.close()
        return self._finish(run)

    # --- the steps of fit ---------------------------------------------------------------------
    def _set_up(self, model: GenerativeModel, train: Columns, validation: Columns | None, resume: bool) -> _Run:
        """Fabric, every phase's optimizer and schedule, the checkpoint resumed from, the data on its device, logs."""
        config = self.config
        phases = model.training_phases()
        fabric = self.fabric or self.setup_fabric(multiple_phases=len(phases) > 1)
        optimizers, schedulers = self._make_optimizers(model, phases)
        checkpoint = self._load_resume_checkpoint(model) if resume else None
        if checkpoint is not None:
            model.load_state_dict(checkpoint.model)
        fabric_model, *fabric_optimizers = fabric.setup(model, *optimizers)
        fabric_model.mark_forward_method("loss")
        state = TrainingState(config.monitor, config.early_stopping_patience)
        if checkpoint is not None:
            self._restore(checkpoint, phases, optimizers, schedulers, state)
        start_step = checkpoint.step if checkpoint is not None else 0
        train, validation = self._place(train), self._place(validation) if validation else None
        schedule = BatchSchedule(
            len(next(iter(train.values()))), config.batch_size, fabric.world_size, fabric.global_rank, config.seed
        )
        batches_per_step = sum(phase.steps for phase in phases)
        batches = ScheduledBatches(train, schedule, start_step * batches_per_step, config.data_workers, self._to_device)
        run = _Run(
            fabric=fabric,
            model=model,
            fabric_model=fabric_model,
            phases=phases,
            optimizers=optimizers,
            fabric_optimizers=fabric_optimizers,
            schedulers=schedulers,
            state=state,
            start_step=start_step,
            step=start_step,
            validation=validation,
            schedule=schedule,
            batches=batches,
            history=self._open_history(model, self._to_device(take(train, schedule.indices(0))), start_step),
            progress=TrainingProgress(
                config.max_steps,
                start_step,
                is_main=fabric.is_global_zero,
                show_bar=config.progress_bar,
                max_seconds=config.max_seconds,
            ),
        )
        self._start_clock(run)
        run.last_log = (run.resumed_at, 0.0)
        self.validations: list[dict[str, float]] = []
        fabric_model.train()
        return run

    def _place(self, columns: Columns) -> dict:
        """Tensors on the training device; streamed columns stay where they are read from (each batch moves)."""
        assert self.fabric is not None
        if is_streamed(columns):
            return dict(columns)
        return {name: self.fabric.to_device(column) for name, column in columns.items()}

    def _to_device(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        assert self.fabric is not None
        return {name: self.fabric.to_device(column) for name, column in batch.items()}

    def _make_optimizers(
        self, model: GenerativeModel, phases: list[TrainingPhase]
    ) -> tuple[list[torch.optim.Optimizer], list[Scheduler]]:
        """Freeze the fixed parts, then one optimizer and one learning-rate schedule per training phase."""
        freeze(model, self.config.freeze)
        stages = [set(map(id, part_parameters(model, part).values())) for part in self.config.gradual_unfreeze]
        optimizers = [make_optimizer(self.config, phase, stages) for phase in phases]
        self._budget_spent = 0.0
        schedulers = [make_scheduler(self.config, optimizer, lambda: self._budget_spent) for optimizer in optimizers]
        return optimizers, schedulers

    def _restore(
        self,
        checkpoint: TrainingCheckpoint,
        phases: list[TrainingPhase],
        optimizers: list[torch.optim.Optimizer],
        schedulers: list[Scheduler],
        state: TrainingState,
    ) -> None:
        """Put back the optimizers, schedules and best-value state a checkpoint saved (the weights are in already)."""
        for phase, optimizer, scheduler in zip(phases, optimizers, schedulers, strict=False):
            optimizer.load_state_dict(checkpoint.optimizers[phase.name])
            scheduler.load_state_dict(checkpoint.schedulers[phase.name])
        state.load(checkpoint)
        assert self.fabric is not None
        self.fabric.print(f"resuming from {self.checkpoint_path} at step {checkpoint.step}")

    def _open_history(self, model: GenerativeModel, probe: Columns, start_step: int) -> HistoryWriter | None:
        """The history file, its columns named by the model's losses and diagnostics on a probe batch."""
        assert self.fabric is not None
        with model.evaluating(), torch.no_grad():
            metric_names = [*sorted(model.loss(probe)), *model.diagnostics(probe)]
        if not self.fabric.is_global_zero:
            return None
        columns = [*metric_names, "learning_rate", "seconds", "data_wait_share"]
        return HistoryWriter(self.output_dir / HISTORY_NAME, columns, resume_step=start_step)

    def _start_clock(self, run: _Run) -> None:
        # the clock counts the seconds trained before a resume too: max_seconds is the whole run's budget
        run.started = time.perf_counter() - run.state.seconds
        run.resumed_at = time.perf_counter()
        self._budget_spent = self._fraction_of_budget_spent(run.started)
        if self._budget_spent >= 1.0:
            run.fabric.print(
                f"the time budget of {self.config.max_seconds:g} s is already spent: raise max_seconds to train on"
            )

    def _train_step(self, run: _Run) -> None:
        """One step: every phase's batches in turn, then the schedules and the clock move on."""
        torch.manual_seed(step_seed(self.config.seed, run.step, run.fabric.global_rank))
        for phase, optimizer in zip(run.phases, run.fabric_optimizers, strict=False):
            for _ in range(phase.steps):
                self._update(run, phase, optimizer, run.batches.next())
        self._budget_spent = self._fraction_of_budget_spent(run.started)
        for scheduler in run.schedulers:
            scheduler.step()
        run.step += 1
        run.state.seconds = time.perf_counter() - run.started

    def _update(self, run: _Run, phase: TrainingPhase, optimizer: torch.optim.Optimizer, batch: Columns) -> None:
        """One optimizer update of a phase; a non-finite loss stops training before it reaches the weights."""
        losses = run.fabric_model.loss(batch, phase=phase.name)
        self._check_finite(losses, run.step, phase)
        optimizer.zero_grad(set_to_none=True)
        run.fabric.backward(losses[phase.loss_key])
        if self.config.gradient_clip_norm is not None:
            run.fabric.clip_gradients(run.fabric_model, optimizer, max_norm=self.config.gradient_clip_norm)
        optimizer.step()
        run.model.after_optimizer_step(phase.name)
        run.running.add(losses)

    def _log_training(self, run: _Run) -> None:
        """The mean of every loss since the last log line, the learning rate and the clock."""
        means = run.running.pop_means()
        means["learning_rate"] = run.schedulers[-1].get_last_lr()[0]
        now = time.perf_counter()
        means["seconds"] = now - run.started
        last_clock, last_waited = run.last_log
        means["data_wait_share"] = (run.batches.waited - last_waited) / max(now - last_clock, 1e-9)
        run.last_log = (now, run.batches.waited)
        run.fabric.log_dict({f"train/{name}": value for name, value in means.items()}, step=run.step)
        if run.history is not None:
            run.history.write(run.step, "train", means)
        run.progress.show_losses(means)

    def _validate_and_watch(self, run: _Run, validation: Columns) -> None:
        """Validate and log; then the best value, early stopping and the model's health checks see the result."""
        run.last_validation = self.validate(run.fabric_model, validation)
        run.fabric.log_dict({f"validation/{name}": value for name, value in run.last_validation.items()}, step=run.step)
        if run.history is not None:
            run.history.write(
                run.step, "validation", {**run.last_validation, "seconds": time.perf_counter() - run.started}
            )
        run.state.observe(run.step, run.last_validation, run.model)
        run.health_warnings += self._check_health(run.model, run.step, run.last_validation)
        every = self.config.sample_grid_every
        if (
            self.progress_view is not None
            and every
            and len(self.validations) % every == 0
            and run.fabric.is_global_zero
        ):
            self.progress_view(run.model, run.step)

    def _announce_stop(self, run: _Run) -> None:
        """Say why training stops before ``max_steps``: the time budget is spent, or validation stopped improving."""
        config = self.config
        if self._budget_spent >= 1.0:
            run.fabric.print(f"stopping at step {run.step}: the time budget of {config.max_seconds:g} s is spent")
        elif run.state.should_stop:
            run.fabric.print(
                f"early stopping at step {run.step}: validation {config.monitor} has not improved "
                f"for {config.early_stopping_patience} validations (best {run.state.best_value:.4f} "
                f"at step {run.state.best_step})"
            )

    def _finish(self, run: _Run) -> FitResult:
        """Restore the best weights if asked, and report the run's steps, speed and last validation."""
        seconds = time.perf_counter() - run.resumed_at
        if self.config.restore_best and run.state.best_model is not None:
            run.model.load_state_dict(run.state.best_model)
        run.model.eval()
        examples = (run.step - run.start_step) * run.batches_per_step * self.config.batch_size * run.fabric.world_size
        return FitResult(
            steps=run.step,
            stopped_early=run.state.should_stop,
            best_step=run.state.best_step,
            best_value=run.state.best_value,
            validation=run.last_validation,
            seconds=seconds,
            examples_per_second=examples / seconds if seconds > 0 else math.nan,
            data_wait_share=run.batches.waited / seconds if seconds > 0 else 0.0,
            skipped_rows=run.batches.skipped,
            warnings=run.health_warnings,
        )

    # --- validation, health, budget and checkpoints -------------------------------------------------
    def validate(self, fabric_model: torch.nn.Module, validation: Columns) -> dict[str, float]:
        """Every loss averaged over the validation set (sharded over processes) and the model's diagnostics."""
        fabric = self.fabric
        assert fabric is not None
        size = len(next(iter(validation.values())))
        shard = torch.arange(fabric.global_rank, size, fabric.world_size)
        sums: dict[str, torch.Tensor] = {}
        torch.manual_seed(step_seed(self.config.seed, 0, fabric.global_rank, validation=True))
        # The unwrapped module: shards may differ in length, and DDP's forward must run equally often.
        module = fabric_model.module
        module.eval()
        with torch.no_grad(), fabric.autocast():
            for chunk in shard.split(self.config.batch_size):
                losses = module.loss(self._to_device(take(validation, chunk)))
                for name, value in losses.items():
                    sums[name] = sums.get(name, 0.0) + value.detach().float() * len(chunk)
            diagnostics = module.diagnostics(validation)
        module.train()
        totals = fabric.all_reduce(torch.stack([*sums.values()]), reduce_op="sum")
        return {**{name: float(total) / size for name, total in zip(sums, totals, strict=True)}, **diagnostics}

    def _check_health(self, model: GenerativeModel, step: int, metrics: dict[str, float]) -> list[str]:
        """Ask the model about its training; on new trouble, set aside the last checkpoint as the last good one."""
        warnings_before = model.check_training_health(self.validations)
        self.validations.append(metrics)
        warnings = model.check_training_health(self.validations)
        if {kind(warning) for warning in warnings} <= {kind(warning) for warning in warnings_before}:
            return []  # nothing new: report a symptom when it appears, not at every validation
        assert self.fabric is not None
        good = self.output_dir / GOOD_CHECKPOINT_NAME
        if not warnings_before and self.fabric.is_global_zero and self.checkpoint_path.is_file():
            with atomic_path(good) as temporary:
                shutil.copyfile(self.checkpoint_path, temporary)
        kept = f"last good checkpoint kept at {good}" if good.is_file() else "no checkpoint was written before it"
        messages = [f"step {step}: {warning}" for warning in warnings]
        for message in messages:
            self.fabric.print(f"warning: {message} ({kept})")
        return messages

    def _fraction_of_budget_spent(self, started: float) -> float:
        """Seconds trained over ``max_seconds`` (0 without one), by the first process's clock.

        Every process gets the same value, so in data parallelism all stop at the same step and
        a time-driven learning rate stays identical across replicas.
        """
        if self.config.max_seconds is None:
            return 0.0
        assert self.fabric is not None
        elapsed = time.perf_counter() - started
        if self.fabric.world_size > 1:
            elapsed = float(self.fabric.broadcast(elapsed, src=0))
        return elapsed / self.config.max_seconds

    def _check_finite(self, losses: Mapping[str, torch.Tensor], step: int, phase: TrainingPhase) -> None:
        """Stop before a NaN or infinite loss reaches the weights; agree across processes."""
        values = torch.stack([value.detach().float() for value in losses.values()])
        bad = (~torch.isfinite(values)).sum()
        if self.fabric is not None and self.fabric.world_size > 1:
            bad = self.fabric.all_reduce(bad, reduce_op="sum")
        if int(bad) == 0:
            return
        found = ", ".join(f"{name}={float(value.detach())}" for name, value in losses.items())
        last = f"{self.checkpoint_path} (intact)" if self.checkpoint_path.is_file() else "none was written yet"
        raise TrainingDivergedError(
            f"a non-finite loss at step {step} ({phase.name} phase: {found}); the weights were not updated. "
            f"Last good checkpoint: {last}. Lower the learning rate, set gradient_clip_norm, or check the data."
        )

    def _load_resume_checkpoint(self, model: GenerativeModel) -> TrainingCheckpoint | None:
        if not self.checkpoint_path.is_file():
            log.warning("no checkpoint at %s; starting from step 0", self.checkpoint_path)
            return None
        checkpoint = load_checkpoint(self.checkpoint_path)
        expected = {name: tuple(t.shape) for name, t in model.state_dict().items()}
        found = {name: tuple(t.shape) for name, t in checkpoint.model.items()}
        if expected != found:
            raise CheckpointError(
                f"{self.checkpoint_path} was written by a different model: "
                f"{sorted(set(expected.items()) ^ set(found.items()))[:6]}"
            )
        return checkpoint

    def _save_checkpoint(self, step: int, run: _Run) -> None:
        """Write the run's checkpoint at ``step`` (first process only); every process waits for it."""
        if run.fabric.is_global_zero:
            names = [phase.name for phase in run.phases]
            save_checkpoint(
                self.checkpoint_path,
                TrainingCheckpoint(
                    step=step,
                    model=run.model.state_dict(),
                    optimizers={name: opt.state_dict() for name, opt in zip(names, run.optimizers, strict=False)},
                    schedulers={name: sch.state_dict() for name, sch in zip(names, run.schedulers, strict=False)},
                    trainer_state=run.state.to_dict(),
                    best_model=run.state.best_model,
                ),
            )
        run.fabric.barrier()


def kind(warning: str) -> str:
    """A health warning's kind: the words before its colon."""
    return warning.partition(":")[0]

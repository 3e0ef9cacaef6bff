"""The training loop, on Lightning Fabric: one loop for every model, driven only by its interface.

Fabric owns devices, data parallelism (DDP, also on CPU with gloo), mixed precision and
multi-node launch (torchrun); this module owns what Fabric leaves to the user: optimizers per
training phase, the schedule of batches, validation, early stopping, checkpoints and logs.
"""

from __future__ import annotations

import logging
import math
import shutil
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from lightning_fabric import Fabric
from lightning_fabric.loggers import TensorBoardLogger

from genmodels.errors import CheckpointError, TrainingDivergedError
from genmodels.io.files import atomic_path
from genmodels.models.base import GenerativeModel, TrainingPhase
from genmodels.training.batches import BatchSchedule, take
from genmodels.training.checkpoint import TrainingCheckpoint, load_checkpoint, save_checkpoint
from genmodels.training.config import TrainerConfig
from genmodels.training.freezing import freeze, part_parameters
from genmodels.training.history import HistoryWriter
from genmodels.training.progress import TrainingProgress

log = logging.getLogger(__name__)

Columns = Mapping[str, torch.Tensor]

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
    warnings: list[str] = field(default_factory=list)
    """Health warnings raised during validation (divergence, mode collapse), each with its step."""


def step_seed(seed: int, step: int, rank: int, validation: bool = False) -> int:
    """The random seed of one training step (or validation) on one process: resumed runs replay the same noise."""
    return int(np.random.SeedSequence([seed, int(validation), step, rank]).generate_state(1)[0])


class Trainer:
    """Trains any :class:`GenerativeModel`; writes checkpoints and logs under ``output_dir``."""

    def __init__(self, config: TrainerConfig, output_dir: str | Path) -> None:
        self.config = config
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
        fabric = Fabric(
            accelerator=self.config.accelerator,
            devices=self.config.devices,
            strategy=strategy,
            precision=self.config.precision,
            num_nodes=self.config.num_nodes,
            loggers=loggers,
        )
        fabric.launch()
        self.fabric = fabric
        return fabric

    def fit(
        self,
        model: GenerativeModel,
        train: Columns,
        validation: Columns | None = None,
        resume: bool = False,
    ) -> FitResult:
        config = self.config
        phases = model.training_phases()
        fabric = self.fabric or self.setup_fabric(multiple_phases=len(phases) > 1)

        freeze(model, config.freeze)
        stages = [set(map(id, part_parameters(model, part).values())) for part in config.gradual_unfreeze]
        optimizers = [self._make_optimizer(phase, stages) for phase in phases]
        self._budget_spent = 0.0
        schedulers = [self._make_scheduler(optimizer) for optimizer in optimizers]
        checkpoint = self._load_resume_checkpoint(model) if resume else None
        if checkpoint is not None:
            model.load_state_dict(checkpoint.model)
        fabric_model, *fabric_optimizers = fabric.setup(model, *optimizers)
        fabric_model.mark_forward_method("loss")
        state = _TrainingState(config.monitor, config.early_stopping_patience)
        start_step = 0
        if checkpoint is not None:
            for phase, optimizer, scheduler in zip(phases, optimizers, schedulers, strict=False):
                optimizer.load_state_dict(checkpoint.optimizers[phase.name])
                scheduler.load_state_dict(checkpoint.schedulers[phase.name])
            state.load(checkpoint)
            start_step = checkpoint.step
            fabric.print(f"resuming from {self.checkpoint_path} at step {start_step}")

        train = {name: fabric.to_device(column) for name, column in train.items()}
        validation = {name: fabric.to_device(column) for name, column in validation.items()} if validation else None
        schedule = BatchSchedule(
            len(next(iter(train.values()))), config.batch_size, fabric.world_size, fabric.global_rank, config.seed
        )
        batches_per_step = sum(phase.steps for phase in phases)
        with model.evaluating(), torch.no_grad():
            probe = take(train, schedule.indices(0))
            metric_names = [*sorted(model.loss(probe)), *model.diagnostics(probe)]
        history = (
            HistoryWriter(
                self.output_dir / HISTORY_NAME, [*metric_names, "learning_rate", "seconds"], resume_step=start_step
            )
            if fabric.is_global_zero
            else None
        )
        progress = TrainingProgress(config.max_steps, start_step, enabled=config.progress_bar and fabric.is_global_zero)

        running = _RunningMeans()
        step = start_step
        # the clock counts the seconds trained before a resume too: max_seconds is the whole run's budget
        started = time.perf_counter() - state.seconds
        resumed_at = time.perf_counter()
        self._budget_spent = self._fraction_of_budget_spent(started)
        if self._budget_spent >= 1.0:
            fabric.print(f"the time budget of {config.max_seconds:g} s is already spent: raise max_seconds to train on")
        last_validation: dict[str, float] = {}
        self.validations: list[dict[str, float]] = []
        health_warnings: list[str] = []
        fabric_model.train()
        try:
            while step < config.max_steps and not state.should_stop and self._budget_spent < 1.0:
                torch.manual_seed(step_seed(config.seed, step, fabric.global_rank))
                batch_number = step * batches_per_step
                for phase, optimizer in zip(phases, fabric_optimizers, strict=False):
                    for _ in range(phase.steps):
                        batch = take(train, schedule.indices(batch_number))
                        batch_number += 1
                        losses = fabric_model.loss(batch, phase=phase.name)
                        self._check_finite(losses, step, phase)
                        optimizer.zero_grad(set_to_none=True)
                        fabric.backward(losses[phase.loss_key])
                        if config.gradient_clip_norm is not None:
                            fabric.clip_gradients(fabric_model, optimizer, max_norm=config.gradient_clip_norm)
                        optimizer.step()
                        model.after_optimizer_step(phase.name)
                        running.add(losses)
                self._budget_spent = self._fraction_of_budget_spent(started)
                for scheduler in schedulers:
                    scheduler.step()
                step += 1
                state.seconds = time.perf_counter() - started
                out_of_time = self._budget_spent >= 1.0
                finished = step == config.max_steps or out_of_time

                if step % config.log_every == 0 or finished:
                    means = running.pop_means()
                    means["learning_rate"] = schedulers[-1].get_last_lr()[0]
                    means["seconds"] = time.perf_counter() - started
                    fabric.log_dict({f"train/{name}": value for name, value in means.items()}, step=step)
                    if history is not None:
                        history.write(step, "train", means)
                    progress.show_losses(means)
                if validation is not None and (step % config.val_every == 0 or finished):
                    last_validation = self.validate(fabric_model, validation)
                    fabric.log_dict({f"validation/{name}": value for name, value in last_validation.items()}, step=step)
                    if history is not None:
                        history.write(step, "validation", {**last_validation, "seconds": time.perf_counter() - started})
                    state.observe(step, last_validation, model)
                    health_warnings += self._check_health(model, step, last_validation)
                if step % config.checkpoint_every == 0 or finished or state.should_stop:
                    self._save_checkpoint(step, model, phases, optimizers, schedulers, state)
                progress.advance(step)
                if out_of_time:
                    fabric.print(f"stopping at step {step}: the time budget of {config.max_seconds:g} s is spent")
                    break
                if state.should_stop:
                    fabric.print(
                        f"early stopping at step {step}: validation {config.monitor} has not improved "
                        f"for {config.early_stopping_patience} validations (best {state.best_value:.4f} "
                        f"at step {state.best_step})"
                    )
                    break
        finally:
            progress.close()
            if history is not None:
                history.close()

        seconds = time.perf_counter() - resumed_at
        steps_run = step - start_step
        if config.restore_best and state.best_model is not None:
            model.load_state_dict(state.best_model)
        examples = steps_run * batches_per_step * config.batch_size * fabric.world_size
        return FitResult(
            steps=step,
            stopped_early=state.should_stop,
            best_step=state.best_step,
            best_value=state.best_value,
            validation=last_validation,
            seconds=seconds,
            examples_per_second=examples / seconds if seconds > 0 else math.nan,
            warnings=health_warnings,
        )

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
                losses = module.loss(take(validation, chunk))
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

    # --- building blocks ------------------------------------------------------------------
    def _make_optimizer(self, phase: TrainingPhase, stages: list[set[int]]) -> torch.optim.Optimizer:
        """Adam(W) or SGD over the phase's trainable parameters; each gradual-unfreeze stage is a group of its own.

        A stage's group carries ``start_step``: the scheduler holds its learning rate at 0 until then.
        """
        config = self.config
        lr = config.phase_learning_rates.get(phase.name, config.learning_rate)
        trainable = [p for p in phase.parameters if p.requires_grad]
        staged = set().union(*stages)
        groups = []
        for members, start, group_lr in [
            ([p for p in trainable if id(p) not in staged], 0, lr),
            *(
                (
                    [p for p in trainable if id(p) in stage],
                    (index + 1) * config.unfreeze_every,
                    lr * config.unfrozen_lr_ratio,
                )
                for index, stage in enumerate(stages)
            ),
        ]:
            # weight decay shrinks weight matrices and embeddings, not biases or normalisation gains
            groups += [
                {"params": [p for p in members if p.dim() >= 2], "weight_decay": config.weight_decay},
                {"params": [p for p in members if p.dim() < 2], "weight_decay": 0.0},
            ]
            for group in groups[-2:]:
                group.update(lr=group_lr, start_step=start)
        groups = [group for group in groups if group["params"]]
        if not groups:
            raise ValueError(f"every parameter of the {phase.name!r} phase is frozen: there is nothing to train")
        if config.optimizer == "sgd":
            return torch.optim.SGD(groups, lr=lr, momentum=config.betas[0])
        optimizer_class = torch.optim.AdamW if config.optimizer == "adamw" else torch.optim.Adam
        return optimizer_class(groups, lr=lr, betas=config.betas)

    def _make_scheduler(self, optimizer: torch.optim.Optimizer) -> torch.optim.lr_scheduler.LambdaLR:
        """Linear warm-up, then constant, or cosine or linear decay to ``min_lr_ratio`` at the end of training.

        The end is whichever budget runs out first: ``max_steps``, or ``max_seconds`` of wall clock,
        so a run on a time budget anneals over that time instead of stopping while its rate is high.
        Groups of parts still waiting to be unfrozen (``start_step`` ahead) get a learning rate of 0.
        """
        warmup, total, shape = self.config.warmup_steps, self.config.max_steps, self.config.lr_schedule
        floor = self.config.min_lr_ratio

        def factor(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            progress = min(1.0, max((step - warmup) / max(1, total - warmup), self._budget_spent))
            if shape == "cosine":
                return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))
            if shape == "linear":
                return floor + (1.0 - floor) * (1.0 - progress)
            return 1.0

        def staged(start: int):
            return lambda step: factor(step) if step >= start else 0.0

        return torch.optim.lr_scheduler.LambdaLR(optimizer, [staged(g["start_step"]) for g in optimizer.param_groups])

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

    def _save_checkpoint(self, step, model, phases, optimizers, schedulers, state: _TrainingState) -> None:
        assert self.fabric is not None
        if self.fabric.is_global_zero:
            save_checkpoint(
                self.checkpoint_path,
                TrainingCheckpoint(
                    step=step,
                    model=model.state_dict(),
                    optimizers={phase.name: opt.state_dict() for phase, opt in zip(phases, optimizers, strict=False)},
                    schedulers={phase.name: sch.state_dict() for phase, sch in zip(phases, schedulers, strict=False)},
                    trainer_state=state.to_dict(),
                    best_model=state.best_model,
                ),
            )
        self.fabric.barrier()


def kind(warning: str) -> str:
    """A health warning's kind: the words before its colon."""
    return warning.partition(":")[0]


class _RunningMeans:
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


class _TrainingState:
    """Best validation value, its weights, and the early-stopping count."""

    def __init__(self, monitor: str | None, patience: int | None) -> None:
        self.monitor, self.patience = monitor, patience
        self.best_value: float | None = None
        self.best_step: int | None = None
        self.best_model: dict[str, torch.Tensor] | None = None
        self.validations_without_improvement = 0
        self.seconds = 0.0
        """Wall-clock seconds trained, over every resume."""

    @property
    def should_stop(self) -> bool:
        return self.patience is not None and self.validations_without_improvement >= self.patience

    def observe(self, step: int, metrics: Mapping[str, float], model: GenerativeModel) -> None:
        if self.monitor is None:
            return
        if self.monitor not in metrics:
            raise KeyError(f"monitor {self.monitor!r} is not a validation loss; the model reports {sorted(metrics)}")
        value = metrics[self.monitor]
        if self.best_value is None or value < self.best_value:
            self.best_value, self.best_step = value, step
            self.best_model = {name: tensor.detach().clone() for name, tensor in model.state_dict().items()}
            self.validations_without_improvement = 0
        else:
            self.validations_without_improvement += 1

    def to_dict(self) -> dict:
        return {
            "best_value": self.best_value,
            "best_step": self.best_step,
            "validations_without_improvement": self.validations_without_improvement,
            "seconds": self.seconds,
        }

    def load(self, checkpoint: TrainingCheckpoint) -> None:
        saved = checkpoint.trainer_state
        self.best_value, self.best_step = saved["best_value"], saved["best_step"]
        self.validations_without_improvement = saved["validations_without_improvement"]
        self.seconds = saved.get("seconds", 0.0)  # checkpoints written before the clock was saved lack it
        self.best_model = checkpoint.best_model

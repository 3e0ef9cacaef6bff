"""Optimizers per training phase and their learning-rate schedules.

Each phase of a model (a GAN's generator and discriminator, say) gets its own optimizer over its
own parameters; parts unfrozen later in training (gradual unfreezing, Howard and Ruder, 2018) are
parameter groups of their own that wait at a learning rate of 0 until their step comes.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from genmodels.errors import ConfigError
from genmodels.models.base import TrainingPhase
from genmodels.training.config import TrainerConfig


def make_optimizer(config: TrainerConfig, phase: TrainingPhase, stages: list[set[int]]) -> torch.optim.Optimizer:
    """Adam(W) or SGD over the phase's trainable parameters; each gradual-unfreeze stage is a group of its own.

    ``stages`` holds the parameter ids of each part to unfreeze, in order. A stage's group carries
    ``start_step``: the scheduler holds its learning rate at 0 until then.
    """
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
        raise ConfigError(f"every parameter of the {phase.name!r} phase is frozen: there is nothing to train")
    if config.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=lr, momentum=config.betas[0])
    optimizer_class = torch.optim.AdamW if config.optimizer == "adamw" else torch.optim.Adam
    return optimizer_class(groups, lr=lr, betas=config.betas)


def make_scheduler(
    config: TrainerConfig, optimizer: torch.optim.Optimizer, budget_spent: Callable[[], float]
) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up, then constant, or cosine or linear decay to ``min_lr_ratio`` at the end of training.

    The end is whichever budget runs out first: ``max_steps``, or ``max_seconds`` of wall clock
    (``budget_spent()`` is the fraction of it used so far), so a run on a time budget anneals over
    that time instead of stopping while its rate is high.
    Groups of parts still waiting to be unfrozen (``start_step`` ahead) get a learning rate of 0.
    """
    warmup, total, shape = config.warmup_steps, config.max_steps, config.lr_schedule
    floor = config.min_lr_ratio

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = min(1.0, max((step - warmup) / max(1, total - warmup), budget_spent()))
        if shape == "cosine":
            return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * progress))
        if shape == "linear":
            return floor + (1.0 - floor) * (1.0 - progress)
        return 1.0

    def staged(start: int):
        return lambda step: factor(step) if step >= start else 0.0

    return torch.optim.lr_scheduler.LambdaLR(optimizer, [staged(g["start_step"]) for g in optimizer.param_groups])

"""The one interface every generative model implements, and the registry that names them.

Trainer, CLI, evaluation, ensembles and transfer learning talk only to this interface:
``loss(batch)`` for training, ``sample(n)``, ``log_prob(x)`` (exact or a documented bound)
and ``score(x)`` (higher means more anomalous). Models never import the trainer or the CLI.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, TypeVar, cast

import torch
from torch import nn

from genmodels.errors import ConfigError
from genmodels.io.dataclass_json import dataclass_from_dict
from genmodels.io.memory import require_memory
from genmodels.io.validation import Sizes, check_fields
from genmodels.models.input_complexity import compressed_length_nats
from genmodels.models.saving import CONFIG_NAME, load_pretrained, save_pretrained

Batch = Mapping[str, torch.Tensor]
"""A training batch: ``{"x": data}``, plus ``{"y": labels}`` where the data set has labels."""


@dataclass
class ModelConfig:
    """Base of every model's configuration; saved as JSON beside the weights.

    Every field is checked against its type hint and declared range when the config is built
    (:func:`~genmodels.io.validation.check_fields`); subclasses call ``super().__post_init__()`` first.
    """

    data_shape: Sizes = (1, 28, 28)

    def __post_init__(self) -> None:
        check_fields(self)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> ModelConfig:
        return dataclass_from_dict(cls, values)


@dataclass(frozen=True)
class TrainingPhase:
    """One optimizer's share of a training step: which parameters it updates from which loss.

    Most models have one phase. A GAN has two (discriminator, then generator), and
    ``steps`` sets how many updates a phase gets per training step (e.g. WGAN's n_critic).
    """

    name: str
    loss_key: str
    parameters: tuple[nn.Parameter, ...]
    steps: int = 1


ResultMethod = TypeVar("ResultMethod", bound=Callable[..., Any])


def evaluation_result(method: ResultMethod) -> ResultMethod:
    """Run a result method (``log_prob``, ``elbo``, ``score``) without autograd unless the model is training.

    In eval mode its result is a number to read: it carries no graph, and ``float()`` of it does not
    warn. In training mode the graph stays, for the losses built on these methods.
    """

    @functools.wraps(method)
    def without_graph_in_eval_mode(self: nn.Module, *args: Any, **kwargs: Any) -> Any:
        if self.training:
            return method(self, *args, **kwargs)
        with torch.no_grad():
            return method(self, *args, **kwargs)

    return cast(ResultMethod, without_graph_in_eval_mode)


class GenerativeModel(nn.Module, ABC):
    """A generative model over tensors of shape ``config.data_shape`` (images in [0, 1])."""

    model_type: ClassVar[str] = ""
    """Registry name, set by :func:`register_model`."""
    config_class: ClassVar[type[ModelConfig]] = ModelConfig
    log_prob_kind: ClassVar[str] = "none"
    """What ``log_prob`` returns: ``"exact"``, ``"hutchinson"`` (an ODE likelihood with a stochastic trace
    estimate), ``"importance_weighted"`` (a stochastic lower bound that
    tightens with more samples), ``"elbo"`` (a lower bound) or ``"none"`` (implicit models)."""
    score_is_nll: ClassVar[bool] = True
    """Whether ``score`` is ``-log_prob`` in nats, so scores that correct an NLL (input complexity) apply."""
    recommended_training: ClassVar[dict[str, Any]] = {}
    """Trainer settings that suit this family, used where the user sets none."""
    recommended_data: ClassVar[dict[str, Any]] = {}
    """Data settings that suit this family (e.g. binarization), used where the user sets none."""
    report_samples: ClassVar[int | None] = None
    """Samples the end-of-run report draws for sample-quality metrics; None: as many as the held-out images."""
    part_aliases: ClassVar[dict[str, tuple[str, ...]]] = {}
    """Family names for groups of parameters (e.g. a VAE's ``encoder``), as parameter-name patterns."""
    block_stack: ClassVar[str | None] = None
    """The ``ModuleList`` of repeated blocks, input side first: "the first N blocks" counts these."""
    conditioning_parts: ClassVar[tuple[str, ...]] = ()
    """Parameter patterns that depend on the class count only; fine-tuning to a new count re-initialises them."""
    lora_targets: ClassVar[tuple[str, ...]] = ("*",)
    """Module-name patterns whose linear and convolution weights LoRA adapts by default."""
    sampling_controls: ClassVar[tuple[str, ...] | None] = None
    """The keyword controls ``sample`` takes (e.g. ``labels``, ``temperature``), refusing any other;
    None for a model whose ``_sample`` checks them itself (an ensemble hands them to its members)."""

    def __init__(self, config: ModelConfig) -> None:
        super().__init__()
        if not isinstance(config, self.config_class):
            raise TypeError(f"{type(self).__name__} needs a {self.config_class.__name__}, got {type(config).__name__}")
        self.config = config

    # --- training -----------------------------------------------------------------------
    @abstractmethod
    def loss(self, batch: Batch, phase: str | None = None) -> dict[str, torch.Tensor]:
        """Named scalar losses for a batch.

        ``phase`` names one of :meth:`training_phases` to compute only what that optimizer
        needs (at least its ``loss_key``); ``None`` computes every loss, ``"loss"`` among them,
        for validation and logging.
        """

    def forward(self, batch: Batch, phase: str | None = None) -> dict[str, torch.Tensor]:
        """Route ``loss`` through ``__call__`` so data-parallel wrappers see the forward pass."""
        return self.loss(batch, phase)

    def diagnostics(self, batch: Batch) -> dict[str, float]:
        """Quantities over a whole held-out set worth watching during validation (e.g. a VAE's active units)."""
        return {}

    @property
    def is_conditional(self) -> bool:
        """Whether ``log_prob``, ``score`` and ``sample`` take class ``labels``."""
        return False

    def training_phases(self) -> list[TrainingPhase]:
        """The optimizers this model trains with; by default one over all parameters."""
        return [TrainingPhase("model", "loss", tuple(self.parameters()))]

    def parameter_parts(self) -> dict[str, tuple[str, ...]]:
        """Names a user can freeze, each mapped to parameter-name patterns (``fnmatch``, a module prefix matches).

        Every child module with parameters is a part under its own name, each entry of a
        ``ModuleList`` too (``blocks.0``), plus the family's :attr:`part_aliases`.
        """
        parts: dict[str, tuple[str, ...]] = {}
        for name, child in self.named_children():
            if any(True for _ in child.parameters()):
                parts[name] = (name,)
                if isinstance(child, nn.ModuleList):
                    parts.update({f"{name}.{index}": (f"{name}.{index}",) for index in range(len(child))})
        return {**parts, **self.part_aliases}

    def after_optimizer_step(self, phase: str) -> None:
        """Called by the trainer after each update of ``phase`` (e.g. to move an EMA copy of weights)."""

    def check_training_health(self, validations: Sequence[Mapping[str, float]]) -> list[str]:
        """Warnings about the training so far, given every validation's metrics (oldest first).

        The trainer prints them and stops refreshing its last good checkpoint while any persist.
        """
        return []

    def untrained_signs(self, validation: Mapping[str, float]) -> list[str]:
        """Signs, once training ends, that the model is too little trained for its samples to mean much.

        ``validation`` holds the last validation's metrics (empty without validation data); the
        run report shows each sign beside the numbers (e.g. a GAN's EMA generator still young).
        """
        return []

    # --- generation and density -----------------------------------------------------------
    def sample(self, n: int, generator: torch.Generator | None = None, **controls: Any) -> torch.Tensor:
        """``n`` new samples, shape ``(n, *data_shape)``, drawn in eval mode without gradients.

        The same ``generator`` seed gives the same samples; ``controls`` are those the family
        names in :attr:`sampling_controls`.
        """
        if int(n) < 1:
            raise ConfigError(f"n must be a positive number of samples, got {n}")
        self.check_sampling_controls(controls)
        require_memory(int(n) * self.sample_bytes(), f"{n} samples of shape {tuple(self.config.data_shape)}")
        with self.evaluating(), torch.no_grad():
            return self._sample(int(n), generator, **controls)

    def check_sampling_controls(self, controls: Mapping[str, Any]) -> None:
        """Refuse controls outside :attr:`sampling_controls`, naming those the model takes."""
        accepted = self.sampling_controls
        unknown = [name for name in controls if accepted is not None and name not in accepted]
        if unknown:
            takes = f"it takes: {', '.join(accepted)}" if accepted else "it takes no sampling controls"
            raise ConfigError(f"{type(self).__name__}.sample does not take {', '.join(unknown)}; {takes}")

    def sample_bytes(self) -> int:
        """Bytes one sample takes in memory (float32 values), to size a request before it is drawn."""
        return math.prod(self.config.data_shape) * 4

    @abstractmethod
    def _sample(self, n: int, generator: torch.Generator | None, **controls: Any) -> torch.Tensor:
        """Family-specific sampling, called by :meth:`sample` in eval mode."""

    def log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """Log-likelihood of each row of ``x`` in nats, shape ``(batch,)``; see ``log_prob_kind``."""
        raise NotImplementedError(f"{type(self).__name__} is an implicit model and has no likelihood")

    @property
    def likelihood_missing(self) -> str | None:
        """Why ``log_prob`` has nothing to return, said so evaluation reports it (None when it has a likelihood)."""
        return f"a {self.model_type} model has no likelihood" if self.log_prob_kind == "none" else None

    @evaluation_result
    def score(self, x: torch.Tensor) -> torch.Tensor:
        """Anomaly score per row of ``x``: higher means less like the training data.

        Defaults to the negative log-likelihood (or its bound).
        """
        return -self.log_prob(x)

    def anomaly_scores(self) -> dict[str, Callable[[torch.Tensor], torch.Tensor]]:
        """The named anomaly scores this model offers, each higher for less typical rows.

        ``nll`` is :meth:`score`; models whose score is an NLL in nats over images also offer
        ``input_complexity``, that NLL minus the image's compressed length (Serra et al., 2020).
        Families add their own (a VAE's ``reconstruction``) or replace ``nll`` (a GAN's ``critic``).
        """
        scores: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {"nll": self.score}
        if self.score_is_nll and self.log_prob_kind != "none" and len(self.config.data_shape) == 3:
            scores["input_complexity"] = lambda x: self.score(x).cpu() - compressed_length_nats(x)
        return scores

    def calibrate_scores(self, x: torch.Tensor) -> dict[str, Any] | None:
        """Fit on normal rows what ``score`` needs to be on one scale (an ensemble's member references).

        Returns it JSON-ready, to be saved with a detector; None for the families that need nothing.
        """
        return None

    def load_score_calibration(self, values: dict[str, Any]) -> None:
        """Restore what :meth:`calibrate_scores` returned."""

    # --- helpers shared by every family ---------------------------------------------------
    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    @contextlib.contextmanager
    def evaluating(self) -> Iterator[None]:
        """Eval mode (dropout off, batch-norm running stats) for the block, then restore."""
        was_training = self.training
        self.eval()
        try:
            yield
        finally:
            self.train(was_training)

    def check_input(self, x: torch.Tensor, name: str = "x") -> torch.Tensor:
        """Refuse data whose shape differs from ``config.data_shape`` with a message saying both."""
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
        expected = tuple(self.config.data_shape)
        if x.dim() != len(expected) + 1 or tuple(x.shape[1:]) != expected:
            raise ConfigError(
                f"{type(self).__name__} expects {name} of shape (batch, {', '.join(map(str, expected))}), "
                f"got {tuple(x.shape)}"
            )
        return x.to(device=self.device, dtype=torch.get_default_dtype())

    # --- saving and loading ---------------------------------------------------------------
    def save_extras(self, directory: Path) -> list[str]:
        """Write files the weights need beside them (e.g. a tokenizer); returns their names."""
        return []

    def load_extras(self, directory: Path) -> None:
        """Read back what :meth:`save_extras` wrote; raise ``CheckpointError`` when it does not fit."""

    def save_pretrained(self, directory: str | Any, **provenance: Any) -> None:
        """Write ``config.json`` and ``model.safetensors`` into ``directory`` (atomically)."""
        save_pretrained(self, directory, **provenance)

    @classmethod
    def from_pretrained(
        cls, directory: str | Any, map_location: str | torch.device = "cpu", allow_missing_hash: bool = False
    ) -> GenerativeModel:
        """Load a model saved with :meth:`save_pretrained`; refuses files of another model type.

        Weights whose ``config.json`` records no SHA-256 load only with ``allow_missing_hash`` (and a warning).
        """
        return load_pretrained(directory, cls, map_location, allow_missing_hash)


def load(
    path: str | Path, map_location: str | torch.device = "cpu", allow_missing_hash: bool = False
) -> GenerativeModel:
    """Load a saved model: a ``save_pretrained`` directory, or a run directory (its ``model/``)."""
    path = Path(path)
    if not (path / CONFIG_NAME).is_file() and (path / "model" / CONFIG_NAME).is_file():
        path = path / "model"
    return GenerativeModel.from_pretrained(path, map_location=map_location, allow_missing_hash=allow_missing_hash)

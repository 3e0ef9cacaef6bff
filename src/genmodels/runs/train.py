"""A training run as a directory: its spec, logs, checkpoints, final model, pictures and report.

Layout of ``RUN/``: ``run.json`` (what was asked: model, data, trainer, seed, versions; see
:mod:`genmodels.runs.spec`), ``history.csv`` and ``tensorboard/`` (logs), ``checkpoints/last.safetensors``
(resume), ``model/`` (``save_pretrained`` format), ``report.json`` and the PNGs written by
:mod:`genmodels.runs.report`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
import torch
from lightning_fabric.utilities.rank_zero import rank_zero_only

from genmodels.data import DataSplits, load_data
from genmodels.errors import CheckpointError, ConfigError, DataError
from genmodels.io.files import read_json, write_text_atomic
from genmodels.io.run_directory import claim_run_directory
from genmodels.io.versions import software_versions
from genmodels.models.autoregressive.sequence import SequenceModel, TokenModel
from genmodels.models.base import GenerativeModel
from genmodels.models.registry import get_model_class
from genmodels.models.sizing import TRAINING_COPIES, build_model_checked
from genmodels.models.tabular.layout import TableModel
from genmodels.nn.lora import LoRASettings, apply_lora
from genmodels.runs.progress_view import progress_view
from genmodels.runs.report import FINAL_EVALUATIONS, write_run_report
from genmodels.runs.spec import MODEL_DIR, RESUMABLE_CHANGES, RUN_FILE, RunSpec
from genmodels.training import FitResult, Trainer
from genmodels.training.checkpoint import checkpoint_step
from genmodels.training.trainer import CHECKPOINT_NAME, HISTORY_NAME
from genmodels.transfer.finetuning import BaseModel, adapt_to_data, load_base


def build_model_for(spec: RunSpec, data: DataSplits, base: GenerativeModel | None = None) -> GenerativeModel:
    """The spec's model for this data (its shape, and for text its tokenizer), initialised from the run's seed.

    With a ``base`` (fine-tuning) the model starts from the base's weights, adapted to the data,
    and with LoRA adapters where the spec asks for them.
    """
    if base is not None:
        return _finetuned_model(spec, data, base)
    model_class = get_model_class(spec.model)
    is_token_model = issubclass(model_class, TokenModel)
    if is_token_model != data.is_text:
        wanted = "text" if is_token_model else "images or vectors"
        raise DataError(f"{spec.model!r} models {wanted}; {data.info['source']!r} is not that kind of data")
    if is_token_model and issubclass(model_class, SequenceModel) == data.info["spec"]["line_rows"]:
        layout = "context windows (line_rows false)" if issubclass(model_class, SequenceModel) else "line_rows true"
        raise DataError(f"{spec.model!r} trains on text as {layout}")
    from_data: dict[str, Any] = {"data_shape": data.data_shape}
    if data.tokenizer is not None:
        from_data["vocab_size"] = data.tokenizer.vocab_size
    if data.preprocessor is not None:
        if not issubclass(model_class, TableModel):
            raise DataError(
                f"{spec.model!r} does not take tables; "
                f"train tabular-flow, tabular-vae or tabular-made on {data.info['source']!r}"
            )
        from_data.update(data.preprocessor.model_settings())
    clashes = {
        name
        for name, value in from_data.items()
        if name in spec.model_config
        and json.dumps(spec.model_config[name]) != json.dumps(list(value) if isinstance(value, tuple) else value)
    }
    if clashes:
        raise ConfigError(f"model settings {sorted(clashes)} differ from what the data sets: {from_data}")
    config = model_class.config_class.from_dict({**spec.model_config, **from_data})
    torch.manual_seed(spec.trainer.seed)
    model = build_model_checked(model_class, config, copies=TRAINING_COPIES)
    if data.tokenizer is not None:
        model.tokenizer = data.tokenizer
    if data.preprocessor is not None:
        model.preprocessor = data.preprocessor
    return model


def _finetuned_model(spec: RunSpec, data: DataSplits, base: GenerativeModel) -> GenerativeModel:
    torch.manual_seed(spec.trainer.seed)
    model = adapt_to_data(base, data, spec.model_config)
    lora = (spec.finetune or {}).get("lora")
    if lora:
        if model.config.to_dict() != base.config.to_dict():
            raise DataError(_lora_refusal(base, model, data))
        targets = tuple(lora["targets"]) if lora.get("targets") else None
        apply_lora(model, LoRASettings(lora["rank"], lora["alpha"], targets, base_model=spec.finetune["base"]))
    return model


def _lora_refusal(base: GenerativeModel, model: GenerativeModel, data: DataSplits) -> str:
    """Why LoRA cannot adapt ``base`` to this data (which settings change, which characters are new) and what to do."""
    base_config, config = base.config.to_dict(), model.config.to_dict()
    changes = "; ".join(f"{key} {value} -> {config[key]}" for key, value in base_config.items() if value != config[key])
    message = f"LoRA adapts the base model as it is, but this data changes it ({changes})"
    old_units, new_units = getattr(base.tokenizer, "units", None), getattr(data.tokenizer, "units", None)
    if old_units is not None and new_units is not None and len(new_units) > len(old_units):
        unseen = new_units[len(old_units) :]
        shown = ", ".join(repr(unit) for unit in unseen[:20]) + (", ..." if len(unseen) > 20 else "")
        message += f": {len(unseen)} {data.tokenizer.kind} token(s) the base never saw: {shown}"
    return (
        f"{message}. Fine-tune fully instead (leave out --lora-rank; --freeze or --freeze-first keep parts fixed), "
        "or remove what is new from the data"
    )


QUICK_TRAINING = {"max_seconds": 30.0}
"""The trainer settings of a first try (``--quick``): at most 30 s of training, over which a decaying
learning rate decays; with it comes a quick final evaluation (:data:`~genmodels.runs.report.QUICK_EVALUATION`)."""


@dataclass
class RunOutcome:
    """A finished run: the trained model (in eval mode), its data, the training result, the report and files."""

    run_dir: Path
    model: GenerativeModel
    data: DataSplits
    fit: FitResult
    report: dict[str, Any]

    @property
    def history(self) -> pd.DataFrame:
        """The training and validation log (``history.csv``), one row per logged step and split."""
        return pd.read_csv(self.run_dir / HISTORY_NAME)

    @property
    def pictures(self) -> dict[str, Path]:
        """The files the report wrote (samples, curves, reconstructions, ...), by name."""
        return {name: Path(path) for name, path in self.report["pictures"].items()}


def train_run(
    spec: RunSpec,
    run_dir: str | Path,
    resume: bool = False,
    check_model: Callable[[GenerativeModel], None] | None = None,
    final_eval: str = "full",
) -> RunOutcome | None:
    """Train the spec's model into ``run_dir``; returns None on processes other than the main one.

    The run directory is held for the whole run (:func:`~genmodels.io.run_directory.claim_run_directory`):
    a second process is refused, and a new run refuses a directory that already holds files.
    ``check_model`` sees the built model before training starts, to refuse what the caller cannot
    use (a detector's score) before any work is spent. ``final_eval`` is the end-of-run evaluation:
    ``full``, ``quick`` or ``none`` (see :func:`~genmodels.runs.report.write_run_report`).
    """
    if final_eval not in FINAL_EVALUATIONS:
        raise ConfigError(f"final_eval must be one of {', '.join(FINAL_EVALUATIONS)}, got {final_eval!r}")
    run_dir = Path(run_dir)
    hint = "pass --resume to continue it, or choose another directory" if not resume else ""
    with claim_run_directory(run_dir, new=not resume, refusal_hint=hint):
        trainer = Trainer(spec.trainer, run_dir)
        trainer.check_devices()
        if resume and rank_zero_only.rank == 0:
            _check_resumable(spec, run_dir)
        base = load_base(BaseModel(**spec.finetune["base"])) if spec.finetune else None
        data = load_data(spec.data, getattr(base, "tokenizer", None))
        model = build_model_for(spec, data, base)
        with model.evaluating(), torch.no_grad():
            # a dry run on a few examples: a model/data mismatch surfaces before anything is written
            model.loss({name: column[:2] for name, column in data.train.tensors().items()})
        if check_model is not None:
            check_model(model)
        fabric = trainer.setup_fabric(multiple_phases=len(model.training_phases()) > 1)
        if fabric.is_global_zero:
            record = {**spec.to_dict(), "data_info": data.info, "versions": software_versions()}
            write_text_atomic(run_dir / RUN_FILE, json.dumps(record, indent=2) + "\n")
        trainer.progress_view = progress_view(run_dir, data)
        fit = trainer.fit(model, data.train.tensors(), data.validation.tensors(), resume=resume)
        _leave_process_group()
        if not fabric.is_global_zero:
            return None
        model = model.cpu().eval()
        lineage = (
            {"finetuned_from": spec.finetune["base"], "frozen": list(spec.trainer.freeze)} if spec.finetune else {}
        )
        model.save_pretrained(
            run_dir / MODEL_DIR, run=str(run_dir.resolve()), data=data.info, trained_steps=fit.steps, **lineage
        )
        report = write_run_report(run_dir, model, data, spec, fit, final_eval)
        return RunOutcome(run_dir, model, data, fit, report)


def train(
    model: str,
    data: str | Path | Mapping[str, Any],
    output: str | Path | None = None,
    *,
    max_steps: int | None = None,
    max_seconds: float | None = None,
    seed: int | None = None,
    model_config: Mapping[str, Any] | None = None,
    trainer: Mapping[str, Any] | None = None,
    quick: bool = False,
    final_eval: str | None = None,
    resume: bool = False,
) -> RunOutcome:
    """What ``genmodels train`` does, in one call: train, save, sample, plot, evaluate; returns the run.

    ``data`` is a data set name, a path, or the ``[data]`` section as a mapping (``{"name": "mnist5k",
    "binarize": False}``); ``model_config`` and ``trainer`` are the ``[model]`` and ``[trainer]``
    sections. ``output`` defaults to ``runs/MODEL-DATA`` (numbered, never overwritten). ``quick`` is
    ``--quick``: :data:`QUICK_TRAINING` and a quick final evaluation. ``final_eval``: ``full``,
    ``quick`` or ``none`` (default: ``quick`` with ``quick``, else ``full``). The returned
    :class:`RunOutcome` holds the model (in eval mode), its data, the fit, the report, the history
    and the pictures' paths. Data-parallel runs return their outcome on the main process only.
    """
    from genmodels.runs.spec import default_run_dir, make_spec, run_name

    data_section = dict(data) if isinstance(data, Mapping) else {"name": str(data)}
    if "name" not in data_section:
        raise ConfigError("data needs a name: a data set name (see `genmodels datasets`) or a path")
    given = {"max_steps": max_steps, "max_seconds": max_seconds, "seed": seed}
    trainer_section = {**(QUICK_TRAINING if quick else {}), **(trainer or {})}
    trainer_section.update({name: value for name, value in given.items() if value is not None})
    spec = make_spec(model, data_section, dict(model_config or {}), trainer_section)
    run_dir = Path(output) if output is not None else default_run_dir(run_name(spec), data_section["name"])
    outcome = train_run(spec, run_dir, resume=resume, final_eval=final_eval or ("quick" if quick else "full"))
    if outcome is None:
        raise RuntimeError("this process is not the main one of a data-parallel run; its outcome is on rank 0")
    return outcome


def _leave_process_group() -> None:
    """End a DDP run's process group on every rank once training is done (nothing collective follows).

    A rank that exits with the group alive can abort while gloo's threads are torn down (SIGABRT at
    interpreter exit, pytorch/pytorch#190489), and Fabric's launcher then kills the main process
    before it writes the model and report.
    """
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


def _check_resumable(spec: RunSpec, run_dir: Path) -> None:
    """Refuse a spec that differs from the saved one, or asks for fewer steps than the checkpoint has trained."""
    saved_path = run_dir / RUN_FILE
    if not saved_path.is_file():
        raise CheckpointError(f"cannot resume: {saved_path} does not exist")
    saved = RunSpec.from_dict(read_json(saved_path, "a run's spec"))
    differences = _differences(saved.to_dict(), spec.to_dict())
    differences = [name for name in differences if name.split(".")[-1] not in RESUMABLE_CHANGES]
    if differences:
        raise CheckpointError(
            f"cannot resume {run_dir}: these settings differ from the saved run: {', '.join(differences)}"
        )
    trained = checkpoint_step(run_dir / CHECKPOINT_NAME)
    if trained is not None and trained > spec.trainer.max_steps:
        raise CheckpointError(
            f"cannot resume {run_dir} with max_steps {spec.trainer.max_steps}: its checkpoint has trained "
            f"{trained} steps already; give --max-steps {trained} or more"
        )


def _differences(saved: dict[str, Any], current: dict[str, Any], prefix: str = "") -> list[str]:
    names = []
    for key in sorted(saved.keys() | current.keys()):
        old, new = saved.get(key), current.get(key)
        if isinstance(old, dict) and isinstance(new, dict):
            names += _differences(old, new, f"{prefix}{key}.")
        elif json.dumps(old) != json.dumps(new):
            names.append(f"{prefix}{key}")
    return names

"""A training run as a directory: its spec, logs, checkpoints, final model, pictures and report.

Layout of ``RUN/``: ``run.json`` (what was asked: model, data, trainer, seed, versions; see
:mod:`genmodels.runs.spec`), ``history.csv`` and ``tensorboard/`` (logs), ``checkpoints/last.safetensors``
(resume), ``model/`` (``save_pretrained`` format), ``report.json`` and the PNGs written by
:mod:`genmodels.runs.report`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from lightning_fabric.utilities.rank_zero import rank_zero_only

from genmodels.data import DataSplits, load_data
from genmodels.errors import CheckpointError, DataError
from genmodels.io.files import write_text_atomic
from genmodels.io.versions import software_versions
from genmodels.models.autoregressive.sequence import SequenceModel, TokenModel
from genmodels.models.base import GenerativeModel
from genmodels.models.registry import get_model_class
from genmodels.models.tabular.layout import TableModel
from genmodels.nn.lora import LoRASettings, apply_lora
from genmodels.runs.report import write_run_report
from genmodels.runs.spec import MODEL_DIR, RESUMABLE_CHANGES, RUN_FILE, RunSpec
from genmodels.training import FitResult, Trainer
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
        raise ValueError(f"model settings {sorted(clashes)} differ from what the data sets: {from_data}")
    config = model_class.config_class.from_dict({**spec.model_config, **from_data})
    torch.manual_seed(spec.trainer.seed)
    model = model_class(config)
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
            raise ValueError(
                "LoRA adapts a base model as it is; this data changes its shape, vocabulary or classes, "
                "so fine-tune it fully (or freeze parts) instead"
            )
        targets = tuple(lora["targets"]) if lora.get("targets") else None
        apply_lora(model, LoRASettings(lora["rank"], lora["alpha"], targets, base_model=spec.finetune["base"]))
    return model


@dataclass
class RunOutcome:
    run_dir: Path
    model: GenerativeModel
    data: DataSplits
    fit: FitResult
    report: dict[str, Any]


def train_run(spec: RunSpec, run_dir: str | Path, resume: bool = False) -> RunOutcome | None:
    """Train the spec's model into ``run_dir``; returns None on processes other than the main one."""
    run_dir = Path(run_dir)
    if rank_zero_only.rank == 0:
        _check_run_dir(spec, run_dir, resume)
    base = load_base(BaseModel(**spec.finetune["base"])) if spec.finetune else None
    data = load_data(spec.data, getattr(base, "tokenizer", None))
    model = build_model_for(spec, data, base)
    with model.evaluating(), torch.no_grad():
        # a dry run on a few examples: a model/data mismatch surfaces before anything is written
        model.loss({name: column[:2] for name, column in data.train.tensors().items()})
    trainer = Trainer(spec.trainer, run_dir)
    fabric = trainer.setup_fabric(multiple_phases=len(model.training_phases()) > 1)
    if fabric.is_global_zero:
        record = {**spec.to_dict(), "data_info": data.info, "versions": software_versions()}
        write_text_atomic(run_dir / RUN_FILE, json.dumps(record, indent=2) + "\n")
    fit = trainer.fit(model, data.train.tensors(), data.validation.tensors(), resume=resume)
    _leave_process_group()
    if not fabric.is_global_zero:
        return None
    model = model.cpu().eval()
    lineage = {"finetuned_from": spec.finetune["base"], "frozen": list(spec.trainer.freeze)} if spec.finetune else {}
    model.save_pretrained(
        run_dir / MODEL_DIR, run=str(run_dir.resolve()), data=data.info, trained_steps=fit.steps, **lineage
    )
    report = write_run_report(run_dir, model, data, spec, fit)
    return RunOutcome(run_dir, model, data, fit, report)


def _leave_process_group() -> None:
    """End a DDP run's process group on every rank once training is done (nothing collective follows).

    A rank that exits with the group alive can abort while gloo's threads are torn down (SIGABRT at
    interpreter exit, pytorch/pytorch#190489), and Fabric's launcher then kills the main process
    before it writes the model and report.
    """
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.destroy_process_group()


def _check_run_dir(spec: RunSpec, run_dir: Path, resume: bool) -> None:
    """Never overwrite a run by accident; on resume, refuse a spec that differs from the saved one."""
    saved_path = run_dir / RUN_FILE
    if not resume:
        if saved_path.exists():
            raise FileExistsError(
                f"{run_dir} already holds a run; pass --resume to continue it, or choose another directory"
            )
        return
    if not saved_path.is_file():
        raise CheckpointError(f"cannot resume: {saved_path} does not exist")
    saved = RunSpec.from_dict(json.loads(saved_path.read_text(encoding="utf-8")))
    differences = _differences(saved.to_dict(), spec.to_dict())
    differences = [name for name in differences if name.split(".")[-1] not in RESUMABLE_CHANGES]
    if differences:
        raise CheckpointError(
            f"cannot resume {run_dir}: these settings differ from the saved run: {', '.join(differences)}"
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

"""A run directory: its spec (``run.json``), the training that fills it, and the end-of-run report."""

from genmodels.runs.report import REPORT_FILE, evaluate_split, write_run_report
from genmodels.runs.spec import MODEL_DIR, RUN_FILE, RunSpec, default_run_dir, finetune_spec, load_run_spec, make_spec
from genmodels.runs.train import RunOutcome, build_model_for, train_run

__all__ = [
    "MODEL_DIR",
    "REPORT_FILE",
    "RUN_FILE",
    "RunOutcome",
    "RunSpec",
    "build_model_for",
    "default_run_dir",
    "evaluate_split",
    "finetune_spec",
    "load_run_spec",
    "make_spec",
    "train_run",
    "write_run_report",
]

"""A run directory: its spec (``run.json``), the training that fills it, and the end-of-run report."""

from genmodels.lazy import lazy_attributes

_EXPORTS = {
    "REPORT_FILE": "genmodels.runs.report",
    "evaluate_split": "genmodels.runs.report",
    "write_run_report": "genmodels.runs.report",
    "MODEL_DIR": "genmodels.runs.spec",
    "RUN_FILE": "genmodels.runs.spec",
    "RunSpec": "genmodels.runs.spec",
    "default_run_dir": "genmodels.runs.spec",
    "finetune_spec": "genmodels.runs.spec",
    "load_run_spec": "genmodels.runs.spec",
    "make_spec": "genmodels.runs.spec",
    "run_name": "genmodels.runs.spec",
    "FINAL_EVALUATIONS": "genmodels.runs.report",
    "QUICK_EVALUATION": "genmodels.runs.report",
    "QUICK_TRAINING": "genmodels.runs.train",
    "RunOutcome": "genmodels.runs.train",
    "build_model_for": "genmodels.runs.train",
    "train_run": "genmodels.runs.train",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_attributes(__name__, _EXPORTS)

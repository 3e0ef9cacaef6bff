"""The GuacaMol goal-directed objectives (Brown et al., 2019) by name, from the ``guacamol`` package itself.

Names follow the PMO benchmark (Gao et al., 2022), which scores the same objectives: the twenty of
GuacaMol's goal-directed suite v2, plus ``isomers_c7h8n2o2`` and ``qed``. The package is imported
on first use only; it still calls ``scipy.histogram``, which SciPy removed, so NumPy's identical
function is put under that name just before the import.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from genmodels.errors import ConfigError, MissingExtraError

GUACAMOL_INSTALL = "pip install --no-deps guacamol==0.5.5 fcd"
"""guacamol pins old packages (rdkit-pypi, an old fcd); without its dependencies it runs on today's."""

SUITE_V2_NAMES = (
    "celecoxib_rediscovery", "troglitazone_rediscovery", "thiothixene_rediscovery", "aripiprazole_similarity",
    "albuterol_similarity", "mestranol_similarity", "isomers_c11h24", "isomers_c9h10n2o2pf2cl", "median1",
    "median2", "osimertinib_mpo", "fexofenadine_mpo", "ranolazine_mpo", "perindopril_mpo", "amlodipine_mpo",
    "sitagliptin_mpo", "zaleplon_mpo", "valsartan_smarts", "deco_hop", "scaffold_hop",
)  # fmt: skip
"""Our names for the benchmarks of ``goal_directed_benchmark_suite("v2")``, in the suite's order."""
EXTRA_TASKS = {"isomers_c7h8n2o2": "isomers_c7h8n2o2", "qed": "qed_benchmark"}
"""PMO tasks outside suite v2, with the ``guacamol.standard_benchmarks`` function that builds each."""
TASK_NAMES = (*SUITE_V2_NAMES, *EXTRA_TASKS)


def import_guacamol(module: str = "guacamol.standard_benchmarks") -> Any:
    """A guacamol module, with ``scipy.histogram`` restored first; a clear error naming the install command."""
    import numpy
    import scipy

    if not hasattr(scipy, "histogram"):
        scipy.histogram = numpy.histogram
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise MissingExtraError(
            f"GuacaMol objectives need the guacamol package ({error}): {GUACAMOL_INSTALL}"
        ) from None


def guacamol_benchmark(name: str) -> Any:
    """The ``GoalDirectedBenchmark`` called ``name`` (one of :data:`TASK_NAMES`)."""
    if name not in TASK_NAMES:
        raise ConfigError(f"unknown GuacaMol objective {name!r}; known: {', '.join(TASK_NAMES)}")
    if name in EXTRA_TASKS:
        return getattr(import_guacamol(), EXTRA_TASKS[name])()
    suite = import_guacamol("guacamol.benchmark_suites").goal_directed_benchmark_suite("v2")
    return suite[SUITE_V2_NAMES.index(name)]


def guacamol_objective(name: str) -> Callable[[str], float]:
    """GuacaMol's scoring function of the task ``name``, as a function of one SMILES string (in [0, 1])."""
    return guacamol_benchmark(name).objective.score

"""Design objectives from a text spec, and the oracle that scores molecules with one under a budget.

A spec is a property name (``qed``, ``logp``, ``sa``, ``weight``), a GuacaMol task
(``guacamol:osimertinib_mpo``), a Python function (``module:function``, taking an RDKit molecule),
or a weighted sum of those (``0.7*guacamol:osimertinib_mpo + 0.3*qed``). Higher is better.

The :class:`Oracle` follows the PMO protocol (Gao et al., 2022): every distinct valid molecule
(by canonical SMILES) costs one call, repeats are answered from its cache, invalid strings cost
nothing and score 0. An objective that raises or returns NaN for a molecule gives it 0; the call is
counted, and so is the failure, so a flaky objective cannot stall a run or go unnoticed.
"""

from __future__ import annotations

import importlib
import math
import re
from collections.abc import Callable

import numpy as np

from genmodels.applications.molecules.guacamol_tasks import guacamol_objective
from genmodels.applications.molecules.properties import PROPERTY_FUNCTIONS
from genmodels.applications.molecules.smiles import canonical, parse
from genmodels.errors import ConfigError

Objective = Callable[[str], float | None]
"""A score of one SMILES string; None when the string is not a molecule."""
GUACAMOL_PREFIX = "guacamol:"
_WEIGHTED_TERM = re.compile(r"^\s*(?:([-+]?[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*\*\s*)?(\S+)\s*$")


def make_objective(spec: str) -> Objective:
    """The objective a spec names (see the module docstring); a one-line error for anything unknown."""
    terms = spec.split("+")
    if len(terms) == 1 and "*" not in spec:
        return _single_objective(spec.strip())
    weighted: list[tuple[float, Objective]] = []
    for term in terms:
        match = _WEIGHTED_TERM.match(term)
        if match is None:
            raise ConfigError(f"objective term {term.strip()!r} of {spec!r} is not WEIGHT*NAME or NAME")
        weight, name = match.groups()
        weighted.append((float(weight) if weight is not None else 1.0, _single_objective(name)))

    def combined(smiles: str) -> float | None:
        values = [(weight, function(smiles)) for weight, function in weighted]
        if any(value is None for _, value in values):
            return None
        return float(sum(weight * value for weight, value in values))

    return combined


def _single_objective(spec: str) -> Objective:
    if spec.startswith(GUACAMOL_PREFIX):
        score_smiles = guacamol_objective(spec.removeprefix(GUACAMOL_PREFIX))
        return lambda smiles: float(score_smiles(smiles)) if parse(smiles) is not None else None
    if spec in PROPERTY_FUNCTIONS:
        function = PROPERTY_FUNCTIONS[spec]
    elif ":" in spec:
        module_name, _, attribute = spec.partition(":")
        try:
            function = getattr(importlib.import_module(module_name), attribute)
        except (ImportError, AttributeError) as error:
            raise ConfigError(f"cannot import the objective {spec!r}: {error}") from None
    else:
        raise ConfigError(
            f"unknown objective {spec!r}: expected one of {', '.join(PROPERTY_FUNCTIONS)}, guacamol:TASK, "
            "module:function, or a weighted sum such as 0.5*qed+0.5*guacamol:osimertinib_mpo"
        )

    def score(smiles: str) -> float | None:
        molecule = parse(smiles)
        return float(function(molecule)) if molecule is not None else None

    return score


class Oracle:
    """``objective`` behind a cache and a budget of distinct molecules; it records every call in order."""

    def __init__(self, objective: Objective, budget: int | None = None) -> None:
        if budget is not None and budget < 1:
            raise ConfigError(f"--oracle-budget must be at least 1 distinct molecule, got {budget}")
        self.objective = objective
        self.budget = budget
        self.scores: dict[str, float] = {}
        """Canonical SMILES -> score, in the order the molecules were first scored."""
        self.failures: dict[str, str] = {}
        """Canonical SMILES -> why the objective gave no number (it raised, or returned NaN or None)."""

    @property
    def calls(self) -> int:
        return len(self.scores)

    @property
    def exhausted(self) -> bool:
        return self.budget is not None and self.calls >= self.budget

    def __call__(self, smiles: str) -> float | None:
        """The score of one molecule; None for an invalid string or a new molecule once the budget is spent."""
        key = canonical(smiles)
        if key is None:
            return None
        if key in self.scores:
            return self.scores[key]
        if self.exhausted:
            return None
        try:
            value = self.objective(key)
            problem = "returned None" if value is None else ("returned NaN" if math.isnan(value) else "")
        except Exception as error:  # a user's objective may fail in any way; the molecule scores 0
            value, problem = None, f"raised {type(error).__name__}: {error}"
        if problem:
            self.failures[key] = problem
            value = 0.0
        self.scores[key] = float(value)
        return self.scores[key]

    def score_all(self, smiles: list[str]) -> list[float | None]:
        return [self(text) for text in smiles]

    def best(self, count: int) -> list[tuple[str, float]]:
        """The ``count`` best molecules scored, best first."""
        return sorted(self.scores.items(), key=lambda item: item[1], reverse=True)[:count]

    def curve(self, every: int = 100, tops: tuple[int, ...] = (1, 10, 100)) -> list[dict[str, float]]:
        """Mean score of the best 1, 10 and 100 molecules found after every ``every`` calls and at the end."""
        values = np.fromiter(self.scores.values(), dtype=np.float64, count=self.calls)
        checkpoints = sorted({*range(every, self.calls, every), self.calls} - {0})
        return [{"calls": calls, **{f"top{top}_mean": top_mean(values[:calls], top) for top in tops}}
                for calls in checkpoints]  # fmt: skip

    def top_auc(self, top: int = 10, every: int = 100) -> float:
        """PMO's score: the area under the top-``top`` mean versus calls, over the budget (see :func:`top_auc`)."""
        return top_auc(list(self.scores.values()), self.budget or self.calls, top, every)


def top_mean(values: np.ndarray, top: int) -> float:
    """Mean of the ``top`` largest values (of all of them when there are fewer)."""
    if len(values) == 0:
        return 0.0
    return float(np.mean(np.sort(values)[-top:]))


def top_auc(scores_in_call_order: list[float], budget: int, top: int = 10, every: int = 100) -> float:
    """Area under the curve of the top-``top`` mean against oracle calls, divided by ``budget`` (PMO, Gao et al. 2022).

    The rule of the PMO benchmark: the top-``top`` mean is taken after every ``every`` calls and
    after the last one, starting from 0 before any call; the area between those points is the
    trapezoid rule; a run that stopped before the budget keeps its final value to the budget.
    So a method that finds good molecules early scores higher than one that finds them late.
    """
    values = np.asarray(scores_in_call_order[:budget], dtype=np.float64)
    area, previous, previous_calls = 0.0, 0.0, 0
    for calls in range(every, len(values), every):
        current = top_mean(values[:calls], top)
        area += (calls - previous_calls) * (current + previous) / 2
        previous, previous_calls = current, calls
    final = top_mean(values, top)
    area += (len(values) - previous_calls) * (final + previous) / 2
    area += (budget - len(values)) * final
    return area / budget

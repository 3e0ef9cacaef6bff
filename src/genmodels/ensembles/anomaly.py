"""An ensemble's anomaly score: its members' scores on one scale, set by reference scores of normal data.

Each member scores with its own named anomaly score (``member_scores``: e.g. the
complexity-corrected NLL of one member beside the plain NLL of another), its NLL or critic by
default. Scores of different members are not comparable, so they are normalised on reference rows
of normal data before they are averaged, as in outlier ensembles (Aggarwal and Sathe, 2017):
``mean`` averages members' standardised scores, which assumes a standard deviation means the same
for every member; ``rank`` averages each member's empirical CDF on that reference, which assumes
nothing of the scales but saturates at 1 beyond the largest reference score, so far-out rows tie.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from genmodels.errors import ConfigError

REFERENCE_QUANTILES = 1001
"""Quantiles of each member's reference scores kept: the empirical CDF to 0.1% resolution."""


def score_reference(scores: np.ndarray, combination: str, member_scores: Sequence[str]) -> dict[str, Any]:
    """Quantiles, mean and spread of each member's scores ``(members, rows)`` of normal rows: the scale of a score.

    ``combination`` and ``member_scores`` are kept beside them, so a reference is never used for another.
    """
    levels = np.linspace(0, 1, REFERENCE_QUANTILES)
    return {
        "combination": combination,
        "member_scores": list(member_scores),
        "quantiles": np.quantile(scores, levels, axis=1).T.tolist(),
        "mean": scores.mean(1).tolist(),
        "std": scores.std(1).tolist(),
    }


def check_reference(reference: dict[str, Any], combination: str, member_scores: Sequence[str]) -> None:
    """Refuse a reference made for another combination or for other member scores."""
    for key, mine in (("combination", combination), ("member_scores", list(member_scores))):
        if key in reference and reference[key] != mine:
            raise ConfigError(
                f"this calibration was made for {key} {reference[key]!r}, the ensemble has {mine!r}: "
                "calibrate it again (genmodels detect calibrate)"
            )


def combine_scores(scores: np.ndarray, reference: dict[str, Any], combination: str) -> np.ndarray:
    """One anomaly score per row from the members' ``(members, rows)``: reference CDFs or standardised, averaged."""
    if combination == "mean":
        mean, std = np.asarray(reference["mean"])[:, None], np.asarray(reference["std"])[:, None]
        return ((scores - mean) / np.maximum(std, 1e-12)).mean(0)
    levels = np.linspace(0, 1, REFERENCE_QUANTILES)
    cdfs = [np.interp(row, quantiles, levels) for row, quantiles in zip(scores, reference["quantiles"], strict=True)]
    return np.mean(cdfs, axis=0)

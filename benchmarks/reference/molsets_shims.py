"""Three compatibility shims that let molsets 0.3.1 (2020) import and run on today's libraries, applied at import.

- ``rdkit.six`` (gone from RDKit): molsets' SA_Score imports ``iteritems`` from it.
- ``DataFrame.append`` (removed in pandas 2): molsets joins its MCF and PAINS tables with it; ``pd.concat`` does
  the same.
- ``np.NaN`` (removed in NumPy 2): molsets fills fingerprints of invalid molecules with it.

molsets' own code is not changed; import this module before ``moses``.
"""

from __future__ import annotations

import sys
import types

import numpy as np
import pandas as pd

six = types.ModuleType("rdkit.six")
six.iteritems = lambda mapping: iter(mapping.items())
sys.modules["rdkit.six"] = six


def _append(frame: pd.DataFrame, other: pd.DataFrame, ignore_index: bool = False, sort: bool = False) -> pd.DataFrame:
    return pd.concat([frame, other], ignore_index=ignore_index, sort=sort)


pd.DataFrame.append = _append
np.NaN = np.nan

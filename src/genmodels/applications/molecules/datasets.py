"""Molecule sets: SMILES from CSV/SMI/text files or the MOSES benchmark, canonical, with an invalid-row report.

``moses`` is the MOSES benchmark (Polykovskiy et al., 2020): the package ships seeded subsets
(20,000 training, 5,000 test and 5,000 scaffold-test molecules) so it works on a fresh install;
``load_smiles(directory, split=...)`` reads the full ``train.csv.gz``, ``test.csv.gz`` and
``test_scaffolds.csv.gz`` of a MOSES directory. For training, a set is written one SMILES per line
(``genmodels molecules prepare``) and read as text by the sequence models.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

from genmodels.applications.molecules.smiles import canonicalize_all
from genmodels.errors import DataError

FILES = resources.files("genmodels.applications.molecules") / "files"
SHIPPED_MOSES = {
    "train": "moses_train_20k.smi.gz",
    "test": "moses_test_5k.smi.gz",
    "test_scaffolds": "moses_test_scaffolds_5k.smi.gz",
}
MOSES_SPLITS = tuple(SHIPPED_MOSES)
INVALID_EXAMPLES = 5
MAX_SMILES_LENGTH = 2000
"""Longest row read as a molecule, in characters: longer rows are skipped and counted, not parsed (the largest
drug-like molecules take a few hundred; a two-million-character row takes RDKit minutes and gigabytes)."""


@dataclass
class SmilesSet:
    smiles: list[str]
    invalid: int = 0
    report: dict[str, Any] = field(default_factory=dict)
    """Source, rows read, valid, invalid, duplicates, and the first invalid rows (line number, text)."""


def read_smiles_strings(path: str | Path, column: str = "SMILES") -> list[str]:
    """Raw strings: a CSV column by name (``.csv``, ``.csv.gz``), or each line's first field (``.smi``, ``.txt``)."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path} does not exist")
    suffixes = "".join(path.suffixes[-2:]).lower()
    if ".csv" in suffixes:
        try:
            table = pd.read_csv(path)
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, OSError) as error:
            raise DataError(f"{path} is not a readable CSV file: {error}") from None
        if column not in table.columns:
            raise DataError(f"{path} has no column {column!r}; its columns are {list(table.columns)}")
        return table[column].astype(str).where(table[column].notna(), "").tolist()
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as handle:
            return [line.split()[0] if line.split() else "" for line in handle]
    except (UnicodeDecodeError, OSError) as error:
        raise DataError(f"{path} is not a readable UTF-8 text file of SMILES (one per line): {error}") from None


def shipped_moses_bytes(split: str) -> bytes:
    """The compressed file of a shipped MOSES subset, as stored in the package."""
    return (FILES / SHIPPED_MOSES[split]).read_bytes()


def _shipped_moses(split: str) -> list[str]:
    with (FILES / SHIPPED_MOSES[split]).open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as text:
        return text.read().split()


def load_smiles(
    source: str | Path,
    column: str = "SMILES",
    split: str = "train",
    canonical: bool = True,
    n_jobs: int = 2,
    max_length: int = MAX_SMILES_LENGTH,
    description: str | None = None,
) -> SmilesSet:
    """Valid molecules of a file, a MOSES directory (``split``) or ``"moses"`` (the shipped subsets).

    Invalid rows never raise: they are counted, skipped and shown (first few) in the report; so are
    rows longer than ``max_length`` characters, which are not parsed at all. A ``description`` shows the
    progress of canonicalising a long set.
    """
    if max_length < 1:
        raise DataError(f"max_length must be at least 1 character, got {max_length}")
    if str(source) == "moses" or Path(source).is_dir():
        if split not in MOSES_SPLITS:
            raise DataError(f"MOSES splits are {', '.join(MOSES_SPLITS)}, got {split!r}")
        if str(source) == "moses":
            strings, origin = _shipped_moses(split), f"moses ({SHIPPED_MOSES[split]}, shipped subset)"
        else:
            path = Path(source) / f"{split}.csv.gz"
            strings, origin = read_smiles_strings(path, column), str(path)
    else:
        strings, origin = read_smiles_strings(source, column), str(source)
    too_long = [number for number, text in enumerate(strings, 1) if len(text) > max_length]
    skipped = set(too_long)
    parsed = canonicalize_all(
        [text for number, text in enumerate(strings, 1) if number not in skipped], n_jobs, description
    )
    results = iter(parsed)
    pairs = [(text, None if number in skipped else next(results)) for number, text in enumerate(strings, 1)]
    valid = [(result if canonical else original) for original, result in pairs if result]
    bad = [
        (number, text if len(text) <= 80 else f"{text[:60]}... ({len(text)} characters)")
        for number, (text, result) in enumerate(pairs, 1)
        if result is None
    ]
    report = {
        "source": origin,
        "rows": len(strings),
        "valid": len(valid),
        "invalid": len(bad),
        "too_long": len(too_long),
        "max_length": max_length,
        "duplicates": len(valid) - len(set(valid)),
        "invalid_examples": bad[:INVALID_EXAMPLES],
        "canonical": canonical,
    }
    if not valid:
        raise DataError(f"{origin}: none of its {len(strings)} rows is a valid SMILES string")
    return SmilesSet(valid, len(bad), report)


def shipped_moses_corpus() -> str:
    """The shipped MOSES training subset, one SMILES per line: the ``moses`` text data set."""
    return "\n".join(_shipped_moses("train")) + "\n"

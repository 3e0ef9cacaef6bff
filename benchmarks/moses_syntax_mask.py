"""Saved SMILES generators sampled with and without the syntax mask: validity, why molecules fail, cost.

    python benchmarks/moses_syntax_mask.py /tmp/charrnn512 /tmp/charrnn100 --moses ../shared/data/moses \
        --output benchmarks/results/moses_syntax_mask.json

Each model draws the same number of molecules at temperature 1 with the same seed, once freely and
once under :class:`~genmodels.applications.molecules.syntax.SmilesSyntaxMask`. Every invalid
molecule is put in one class: unfinished (no line break within ``--max-length`` characters),
syntax (RDKit cannot even read it), kekulisation (aromatic rings with an impossible electron
count), valence, or other. Novelty is against the full MOSES training set, as in the MOSES table.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

from rdkit import Chem

import genmodels
from genmodels.applications.molecules.datasets import load_smiles
from genmodels.applications.molecules.generation import sample_strings
from genmodels.applications.molecules.metrics import moses_metrics
from genmodels.versions import software_versions

FAILURES = {"KekulizeException": "kekulisation", "AtomKekulizeException": "kekulisation",
            "AtomValenceException": "valence"}  # fmt: skip


def failure(smiles: str) -> str | None:
    """Why RDKit rejects ``smiles`` (one class), or None when it is a valid molecule."""
    if not smiles:
        return "unfinished"
    if Chem.MolFromSmiles(smiles) is not None:
        return None
    unsanitised = Chem.MolFromSmiles(smiles, sanitize=False)
    if unsanitised is None:
        return "syntax"
    problems = Chem.DetectChemistryProblems(unsanitised)
    return FAILURES.get(problems[0].GetType(), "other") if problems else "other"


def measure(model, samples: int, max_length: int, seed: int, syntax_mask: bool, train: list[str] | None) -> dict:
    started = time.perf_counter()
    generated = sample_strings(model, samples, max_length=max_length, seed=seed, syntax_mask=syntax_mask)
    seconds = time.perf_counter() - started
    metrics = moses_metrics(generated, train=train, unique_at=(10000,), fcd=False)
    failures = Counter(reason for reason in map(failure, generated) if reason)
    return {
        "sampling_seconds": seconds,
        "valid": metrics["valid"],
        "unique@10000": metrics.get("unique@10000"),
        "Novelty": metrics.get("Novelty"),
        "invalid_by_reason": {reason: count / samples for reason, count in failures.most_common()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", type=Path, nargs="+", help="saved CharRNN / GPT directories trained on SMILES")
    parser.add_argument("--moses", type=Path, help="MOSES directory, for novelty against its training set")
    parser.add_argument("--samples", type=int, default=30000)
    parser.add_argument("--max-length", type=int, default=150)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results/moses_syntax_mask.json"))
    args = parser.parse_args()
    train = load_smiles(args.moses, split="train").smiles if args.moses else None
    results = {}
    for directory in args.models:
        model = genmodels.load(directory)
        results[str(directory)] = {
            "model": model.config.to_dict(),
            **{name: measure(model, args.samples, args.max_length, args.seed, mask, train)
               for name, mask in (("free", False), ("syntax_mask", True))},
        }  # fmt: skip
        print(json.dumps({str(directory): results[str(directory)]["syntax_mask"]}, indent=2))
    record = {"samples": args.samples, "max_length": args.max_length, "seed": args.seed,
              "novelty_reference": str(args.moses) if args.moses else None, "results": results,
              "versions": software_versions()}  # fmt: skip
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()

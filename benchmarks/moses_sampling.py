"""Saved molecule generators under sampling controls (temperature, syntax mask): validity, why molecules fail, cost.

    python benchmarks/moses_sampling.py /tmp/charrnn100 --moses ../shared/data/moses \
        --temperatures 1.0 0.9 0.8 --output benchmarks/results/moses_sampling.json

Each model draws the same number of molecules with the same seed at every temperature, once freely
and once under :class:`~genmodels.applications.molecules.syntax.SmilesSyntaxMask`. Every invalid
molecule is put in one class: unfinished (no line break within ``--max-length`` characters),
syntax (RDKit cannot even read it), kekulisation (aromatic rings with an impossible electron
count), valence, or other. A SELFIES model samples without a mask (it needs none) and fails only
by not finishing or by a line that decodes to no atom. With ``--moses``, novelty is against the
full MOSES training set and FCD against the same seeded 20,000-molecule test subsample as
``moses_generators.py`` (both canonicalised by RDKit, as there).
"""

from __future__ import annotations

import argparse
import json
import time
from collections import Counter
from pathlib import Path

from moses_generators import subsample
from rdkit import Chem

import genmodels
from genmodels.applications.molecules.datasets import load_smiles
from genmodels.applications.molecules.generation import representation_of, sample_smiles
from genmodels.applications.molecules.metrics import chemnet_statistics, frechet_chemnet_distance
from genmodels.applications.molecules.smiles import canonicalize_all
from genmodels.io.versions import software_versions

FAILURES = {"KekulizeException": "kekulisation", "AtomKekulizeException": "kekulisation",
            "AtomValenceException": "valence"}  # fmt: skip


def failure(smiles: str, representation: str = "smiles") -> str:
    """Why RDKit rejects the invalid ``smiles`` (one class); for SELFIES, why the line decodes to nothing."""
    if not smiles:
        return "unfinished"
    if representation == "selfies":
        return "no atom"
    unsanitised = Chem.MolFromSmiles(smiles, sanitize=False)
    if unsanitised is None:
        return "syntax"
    problems = Chem.DetectChemistryProblems(unsanitised)
    return FAILURES.get(problems[0].GetType(), "other") if problems else "other"


def measure(model, args: argparse.Namespace, temperature: float, syntax_mask: bool, references: dict) -> dict:
    """One sampling setting: the MOSES validity, uniqueness, novelty and FCD/Test, and why molecules fail."""
    representation = representation_of(model)
    started = time.perf_counter()
    generated = sample_smiles(model, args.samples, max_length=args.max_length, temperature=temperature,
                              seed=args.seed, syntax_mask=syntax_mask)  # fmt: skip
    seconds = time.perf_counter() - started
    canonical = canonicalize_all(generated)
    valid = [smiles for smiles in canonical if smiles]
    metrics = {"valid": len(valid) / len(generated), "unique@10000": len(set(valid[:10000])) / len(valid[:10000])}
    if references:
        metrics["Novelty"] = len(set(valid) - references["train"]) / len(set(valid))
        metrics["FCD/Test"] = frechet_chemnet_distance(chemnet_statistics(valid), references["test_chemnet"])
    failures = Counter(failure(line, representation)
                       for line, smiles in zip(generated, canonical, strict=True) if smiles is None)  # fmt: skip
    return {
        "temperature": temperature,
        "syntax_mask": syntax_mask,
        "sampling_seconds": seconds,
        "metrics": metrics,
        "invalid_by_reason": {reason: count / args.samples for reason, count in failures.most_common()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("models", type=Path, nargs="+", help="saved CharRNN / GPT directories (SMILES or SELFIES)")
    parser.add_argument("--moses", type=Path, help="MOSES directory: novelty, FCD and similarities to its test set")
    parser.add_argument("--temperatures", type=float, nargs="+", default=[1.0])
    parser.add_argument("--reference-size", type=int, default=20000, help="seeded test subsample; 0: all")
    parser.add_argument("--samples", type=int, default=30000)
    parser.add_argument("--max-length", type=int, default=150)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results/moses_sampling.json"))
    args = parser.parse_args()
    references = {}
    if args.moses:  # computed once for every setting
        test = subsample(load_smiles(args.moses, split="test").smiles, args.reference_size)
        references = {
            "train": set(load_smiles(args.moses, split="train").smiles),
            "test_chemnet": chemnet_statistics(test),
        }
    results = {}
    for directory in args.models:
        model = genmodels.load(directory)
        masks = (False, True) if representation_of(model) == "smiles" else (False,)
        runs = [measure(model, args, temperature, mask, references)
                for temperature in args.temperatures for mask in masks]  # fmt: skip
        results[str(directory)] = {"model": model.config.to_dict(), "runs": runs}
        for run in runs:
            summary = {key: run["metrics"].get(key) for key in ("valid", "unique@10000", "Novelty", "FCD/Test")}
            print(directory, run["temperature"], run["syntax_mask"], json.dumps(summary), flush=True)
    record = {"samples": args.samples, "max_length": args.max_length, "seed": args.seed,
              "reference": str(args.moses) if args.moses else None, "reference_size": args.reference_size,
              "results": results, "versions": software_versions()}  # fmt: skip
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()

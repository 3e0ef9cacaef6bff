"""Where the MOSES metrics spend their time: each per-molecule step, and exact ways to compute SNN on the CPU.

    python benchmarks/moses_metrics_profile.py --moses /work/shared/data/moses \
        --output benchmarks/results/moses_metrics_profile.json

Per-molecule steps are timed one after another on ``--profiled`` MOSES test molecules in this process
(milliseconds per molecule): parsing, canonical SMILES, fingerprint, BRICS fragments, scaffold, the
MCF/PAINS filters as a Python loop of matches and as one RDKit filter catalog, the four properties,
and ChemNet activations (fcd-torch).

For SNN, Morgan fingerprints (radius 2, 1,024 bits) of ``--generated`` test molecules against the next
``--reference`` ones; every method must give the same SNN. Methods: dense float32 and bfloat16
products of the 0/1 matrices with a division per pair (how molsets computes it, in blocks), a scipy
sparse x dense product, RDKit's ``BulkTanimotoSimilarity`` (one core, on a slice, scaled up), int8
products with a division per pair, and genmodels' int8 products by groups of equal bit count
(:func:`genmodels.applications.molecules.similarity.nearest_neighbour_similarity`).
"""

from __future__ import annotations

import argparse
import json
import os
import time
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.sparse
import torch
from rdkit import Chem, DataStructs
from rdkit.Chem import rdFingerprintGenerator

from genmodels.applications.molecules.features import FILTER_FILES, _filter_catalog, _scaffold
from genmodels.applications.molecules.properties import PROPERTY_FUNCTIONS
from genmodels.applications.molecules.similarity import nearest_neighbour_similarity
from genmodels.io.versions import software_versions

BLOCK = 4096


def dense_snn(reference: np.ndarray, generated: np.ndarray, dtype: torch.dtype) -> float:
    generated_t = torch.from_numpy(generated).to(dtype)
    generated_counts = generated_t.float().sum(1)
    best = torch.zeros(len(generated))
    for start in range(0, len(reference), BLOCK):
        block = torch.from_numpy(reference[start : start + BLOCK]).to(dtype)
        shared = (block @ generated_t.T).float()
        similarity = shared / (block.float().sum(1, keepdim=True) + generated_counts[None] - shared)
        best = torch.maximum(best, similarity.nan_to_num(1.0).max(0).values)
    return float(best.double().mean())


def int8_per_pair_snn(reference: np.ndarray, generated: np.ndarray) -> float:
    generated_t = torch.from_numpy(generated).to(torch.int8)
    padding = -len(generated) % 8
    generated_t = torch.cat([generated_t, torch.zeros(padding, generated.shape[1], dtype=torch.int8)]).T.contiguous()
    generated_counts = torch.from_numpy(generated.sum(1)).float()
    best = torch.zeros(len(generated))
    for start in range(0, len(reference), BLOCK):
        block = reference[start : start + BLOCK]
        rows = len(block)
        block = np.concatenate([block, np.zeros((-rows % 8, block.shape[1]), np.uint8)])
        shared = torch._int_mm(torch.from_numpy(block).to(torch.int8), generated_t)[:rows, : len(generated)].float()
        counts = torch.from_numpy(block[:rows].sum(1)).float()
        similarity = shared / (counts[:, None] + generated_counts[None] - shared)
        best = torch.maximum(best, similarity.nan_to_num(1.0).max(0).values)
    return float(best.double().mean())


def sparse_snn(reference: np.ndarray, generated: np.ndarray) -> float:
    generated_sparse = scipy.sparse.csr_matrix(generated.astype(np.float32))
    generated_counts = generated.sum(1).astype(np.float32)
    best = np.zeros(len(generated), np.float32)
    for start in range(0, len(reference), BLOCK):
        block = reference[start : start + BLOCK].astype(np.float32)
        shared = generated_sparse @ block.T  # (generated, reference block)
        best = np.maximum(best, (shared / (generated_counts[:, None] + block.sum(1)[None] - shared)).max(1))
    return float(best.astype(np.float64).mean())


def rdkit_bulk_snn(reference: list, generated: list) -> float:
    return float(np.mean([max(DataStructs.BulkTanimotoSimilarity(vector, reference)) for vector in generated]))


def milliseconds_per_molecule(step, items: list) -> float:
    started = time.perf_counter()
    for item in items:
        step(item)
    return (time.perf_counter() - started) / len(items) * 1e3


def matches_any(molecule: Chem.Mol, patterns: list[Chem.Mol]) -> bool:
    """The filters as they were computed before: a Python loop of substructure matches."""
    with_hydrogens = Chem.AddHs(molecule)
    return any(with_hydrogens.HasSubstructMatch(pattern) for pattern in patterns)


def step_costs(smiles: list[str]) -> dict[str, float]:
    """Milliseconds per molecule of each step the metrics take for one molecule."""
    from fcd_torch import FCD
    from rdkit.Chem import AllChem

    molecules = [Chem.MolFromSmiles(text) for text in smiles]
    generator = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=1024)
    catalog = _filter_catalog()
    with (FILTER_FILES / "mcf.csv").open("r") as mcf, (FILTER_FILES / "wehi_pains.csv").open("r") as pains:
        smarts = [*pd.read_csv(mcf)["smarts"], *pd.read_csv(pains, names=["smarts", "names"])["smarts"]]
    patterns = [Chem.MolFromSmarts(pattern) for pattern in smarts]
    costs = {
        "parse": milliseconds_per_molecule(Chem.MolFromSmiles, smiles),
        "canonical SMILES": milliseconds_per_molecule(Chem.MolToSmiles, molecules),
        "fingerprint": milliseconds_per_molecule(generator.GetFingerprintAsNumPy, molecules),
        "BRICS fragments": milliseconds_per_molecule(
            lambda molecule: Chem.MolToSmiles(AllChem.FragmentOnBRICSBonds(molecule)), molecules
        ),
        "scaffold": milliseconds_per_molecule(_scaffold, molecules),
        "filters, a Python loop of matches": milliseconds_per_molecule(
            partial(matches_any, patterns=patterns), molecules
        ),
        "filters, one filter catalog": milliseconds_per_molecule(
            lambda molecule: catalog.HasMatch(Chem.AddHs(molecule)), molecules
        ),
    }
    for name, function in PROPERTY_FUNCTIONS.items():
        costs[f"property {name}"] = milliseconds_per_molecule(function, molecules)
    network = FCD(device="cpu", n_jobs=1, batch_size=512)
    started = time.perf_counter()
    network.get_predictions(smiles)
    costs["ChemNet"] = (time.perf_counter() - started) / len(smiles) * 1e3
    return costs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moses", type=Path, required=True)
    parser.add_argument("--generated", type=int, default=3000)
    parser.add_argument("--reference", type=int, default=20000)
    parser.add_argument("--profiled", type=int, default=1000)
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results/moses_metrics_profile.json"))
    args = parser.parse_args()
    smiles = pd.read_csv(args.moses / "test.csv.gz")["SMILES"].tolist()[: args.generated + args.reference]
    generator = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=1024)
    vectors = [generator.GetFingerprint(Chem.MolFromSmiles(text)) for text in smiles]
    bits = np.stack([generator.GetFingerprintAsNumPy(Chem.MolFromSmiles(text)) for text in smiles]).astype(np.uint8)
    generated, reference = bits[: args.generated], bits[args.generated :]
    steps = step_costs(smiles[: args.profiled])
    pairs = len(generated) * len(reference)
    methods = {
        "dense float32 (molsets' method)": lambda: dense_snn(reference, generated, torch.float32),
        "dense bfloat16": lambda: dense_snn(reference, generated, torch.bfloat16),
        "scipy sparse x dense": lambda: sparse_snn(reference, generated),
        "int8 products, division per pair": lambda: int8_per_pair_snn(reference, generated),
        "int8 products by bit-count group (genmodels)": lambda: nearest_neighbour_similarity(
            np.packbits(reference, axis=1), np.packbits(generated, axis=1)
        ),
    }
    results = {}
    for name, method in methods.items():
        started = time.perf_counter()
        value = method()
        results[name] = {"seconds": time.perf_counter() - started, "snn": value}
    share = 10  # RDKit's loop is one core and slow: a tenth of the generated molecules, scaled up
    started = time.perf_counter()
    value = rdkit_bulk_snn(vectors[args.generated :], vectors[: args.generated // share])
    results["RDKit BulkTanimotoSimilarity (1 core, scaled from a tenth)"] = {
        "seconds": (time.perf_counter() - started) * share, "snn_of_the_tenth": value}  # fmt: skip
    for row in results.values():
        row["ns_per_pair"] = row["seconds"] / pairs * 1e9
    record = {
        "generated": args.generated,
        "reference": args.reference,
        "profiled": args.profiled,
        "torch_threads": torch.get_num_threads(),
        "load_average": os.getloadavg(),
        "ms_per_molecule": steps,
        "snn_methods": results,
        "versions": software_versions(),
    }
    args.output.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    for name, cost in steps.items():
        print(f"{name}: {cost:.2f} ms per molecule")
    for name, row in results.items():
        print(f"{name}: {row['seconds']:.2f} s")


if __name__ == "__main__":
    main()

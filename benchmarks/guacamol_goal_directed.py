"""GuacaMol goal-directed suite v2 (Brown et al., 2019), run by guacamol itself, with REINVENT behind its interface.

genmodels' REINVENT (from a CharRNN prior trained on MOSES) sits behind GuacaMol's
``GoalDirectedGenerator``: for each benchmark it fine-tunes a fresh copy of the prior against
the benchmark's scoring function, every call going through genmodels' budgeted oracle, and hands
back the best distinct molecules found. With ``--tasks all`` the suite is run by
``guacamol.assess_goal_directed_generation`` exactly as published (its JSON is kept beside ours);
a subset runs each chosen benchmark's own ``assess_model``, the call that function makes.
GuacaMol sets no budget; ``--budget`` (distinct molecules scored per benchmark) is ours.

    python benchmarks/guacamol_goal_directed.py --prior runs/charrnn-moses-prior --tasks all
    python benchmarks/guacamol_goal_directed.py --prior runs/charrnn-moses-prior --tasks celecoxib_rediscovery \\
        osimertinib_mpo --budget 10000
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

from rdkit import Chem

import genmodels
from genmodels.applications.molecules.guacamol_tasks import SUITE_V2_NAMES, import_guacamol
from genmodels.applications.molecules.objectives import Oracle
from genmodels.applications.molecules.reinvent import ReinventConfig, reinvent
from genmodels.io.versions import software_versions

PUBLISHED = {
    "source": "Brown et al. (2019), 'GuacaMol: Benchmarking Models for de Novo Molecular Design', J. Chem. Inf. "
    "Model. 59(3), 1096-1108, table of goal-directed benchmark results (arXiv:1811.09621); the SMILES LSTM column "
    "agrees with the copy in the PSV-PPO paper (arXiv:2505.00530) on the seven tasks that copy shows",
    "total": {"Graph GA": 17.983, "SMILES LSTM": 17.340},
    "Graph GA": dict(zip(SUITE_V2_NAMES, (1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.971, 0.982, 0.406, 0.432, 0.953, 0.998,
                                          0.920, 0.792, 0.894, 0.891, 0.754, 0.990, 1.0, 1.0), strict=True)),
    "SMILES LSTM": dict(zip(SUITE_V2_NAMES, (1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.993, 0.879, 0.438, 0.422, 0.907,
                                             0.959, 0.855, 0.808, 0.894, 0.545, 0.669, 0.978, 0.996, 0.998),
                            strict=True)),
}  # fmt: skip


def make_generator(prior: Path, budget: int, config: ReinventConfig, seed: int, log: list[dict]):
    """A ``GoalDirectedGenerator`` that runs REINVENT from a fresh copy of ``prior`` for every benchmark."""
    base = import_guacamol("guacamol.goal_directed_generator").GoalDirectedGenerator

    class ReinventGenerator(base):
        def generate_optimized_molecules(self, scoring_function, number_molecules, starting_population=None):
            started, load_before = time.perf_counter(), os.getloadavg()
            oracle = Oracle(scoring_function.score, budget)
            result = reinvent(genmodels.load(prior), oracle, config, seed=seed)
            chosen, seen = [], set()  # GuacaMol counts stereoisomers as one molecule: hand back distinct ones
            for smiles, _ in oracle.best(oracle.calls):
                flat = Chem.MolToSmiles(Chem.MolFromSmiles(smiles), isomericSmiles=False)
                if flat not in seen:
                    seen.add(flat)
                    chosen.append(smiles)
                if len(chosen) == number_molecules:
                    break
            log.append({"oracle_calls": oracle.calls, "policy_updates": len(result.history),
                        "seconds": time.perf_counter() - started, "loadavg_start": load_before,
                        "loadavg_end": os.getloadavg(), "objective_failures": len(oracle.failures)})  # fmt: skip
            return chosen

    return ReinventGenerator()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prior", type=Path, required=True, help="run or model directory of a SMILES generator")
    parser.add_argument("--tasks", nargs="+", default=["all"], help=f"'all' or some of: {', '.join(SUITE_V2_NAMES)}")
    parser.add_argument("--budget", type=int, default=10_000, help="distinct molecules scored per benchmark")
    parser.add_argument("--max-minutes", type=float, help="also stop each benchmark's run after this long")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--sigma", type=float, default=500.0)
    parser.add_argument("--diversity-bucket", type=int, default=0, help="Murcko-scaffold bucket (0: no filter)")
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results/guacamol_goal_directed.json"))
    args = parser.parse_args()
    unknown = sorted(set(args.tasks) - {"all", *SUITE_V2_NAMES})
    if unknown:
        parser.error(f"unknown tasks {unknown}; choose from {', '.join(SUITE_V2_NAMES)}")
    config = ReinventConfig(steps=10**6, batch_size=args.batch_size, sigma=args.sigma,
                            bucket_size=args.diversity_bucket,
                            max_seconds=args.max_minutes * 60 if args.max_minutes else None)  # fmt: skip
    log: list[dict] = []
    generator = make_generator(args.prior, args.budget, config, args.seed, log)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    if args.tasks == ["all"]:
        suite_json = args.output.with_suffix(".guacamol.json")
        import_guacamol("guacamol.assess_goal_directed_generation").assess_goal_directed_generation(
            generator, json_output_file=str(suite_json), benchmark_version="v2"
        )
        results = [(name, row["score"]) for name, row in zip(SUITE_V2_NAMES, json.loads(suite_json.read_text())
                                                             ["results"], strict=True)]  # fmt: skip
    else:
        suite = import_guacamol("guacamol.benchmark_suites").goal_directed_benchmark_suite("v2")
        results = []
        for name in (name for name in SUITE_V2_NAMES if name in args.tasks):
            results.append((name, suite[SUITE_V2_NAMES.index(name)].assess_model(generator).score))
            print(f"{name}: {results[-1][1]:.3f} in {log[-1]['seconds']:.0f} s", flush=True)
            write_record(args, results, log)  # each finished benchmark is kept, should the run be stopped
    write_record(args, results, log)


def write_record(args: argparse.Namespace, results: list[tuple[str, float]], log: list[dict]) -> None:
    tasks = [name for name, _ in results]
    per_task = {name: {"score": score, **details, "Graph GA (published)": PUBLISHED["Graph GA"][name],
                       "SMILES LSTM (published)": PUBLISHED["SMILES LSTM"][name]}
                for (name, score), details in zip(results, log, strict=True)}  # fmt: skip
    record = {
        "protocol": "GuacaMol goal-directed suite v2 (guacamol 0.5.5), REINVENT (Olivecrona et al., 2017) from a "
        "CharRNN prior trained on MOSES behind guacamol's GoalDirectedGenerator",
        "prior": str(args.prior),
        "settings": {
            "budget": args.budget,
            "seed": args.seed,
            "batch_size": args.batch_size,
            "sigma": args.sigma,
            "diversity_bucket": args.diversity_bucket,
            "max_minutes": args.max_minutes,
        },  # fmt: skip
        "tasks_run": len(results),
        "total": float(sum(row["score"] for row in per_task.values())),
        "published_total_same_tasks": {
            method: float(sum(PUBLISHED[method][name] for name in tasks)) for method in ("Graph GA", "SMILES LSTM")
        },  # fmt: skip
        "per_task": per_task,
        "published": PUBLISHED,
        "machine": {"cpus": os.cpu_count()},
        "versions": software_versions(),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()

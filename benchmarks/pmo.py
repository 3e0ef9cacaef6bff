"""PMO (Gao et al., 2022): REINVENT from a MOSES CharRNN prior, 10,000 oracle calls, AUC of the top-10 mean.

Every task whose oracle runs offline (all of PMO's 23 but DRD2, GSK3B and JNK3, which need
TDC's downloaded classifiers) is GuacaMol's own scoring function, called through genmodels'
budgeted :class:`Oracle`: each distinct valid molecule costs one call. The score of a run is the
area under the curve of the top-10 mean against calls, by PMO's rule (sampled every 100 calls,
trapezoids, a run that stops early keeps its last value up to the budget), as
:func:`genmodels.applications.molecules.objectives.top_auc` implements it. The load average and
wall time of every task are recorded, since the machine may be shared.

    python benchmarks/pmo.py --prior runs/charrnn-moses-prior --tasks all --seeds 0 1 2
    python benchmarks/pmo.py --prior runs/charrnn-moses-prior --tasks qed zaleplon_mpo --max-minutes 10

Results are appended task by task to the JSON file (default benchmarks/results/pmo.json), so a
long run that is stopped keeps what it finished; ``--resume`` skips the (task, seed) pairs there.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_context
from pathlib import Path

import numpy as np
import torch

import genmodels
from genmodels.applications.molecules.guacamol_tasks import TASK_NAMES
from genmodels.applications.molecules.objectives import Oracle, make_objective
from genmodels.applications.molecules.reinvent import ReinventConfig, reinvent
from genmodels.io.versions import software_versions

OFFLINE_TASKS = tuple(name for name in TASK_NAMES if name not in ("aripiprazole_similarity", "isomers_c11h24"))
"""PMO's 23 tasks less drd2, gsk3b and jnk3: these 20 (aripiprazole and C11H24 are GuacaMol's, not PMO's)."""

PUBLISHED = {
    "source": "Gao et al. (2022), 'Sample Efficiency Matters: A Benchmark for Practical Molecular Optimization', "
    "NeurIPS Datasets and Benchmarks, main table of AUC top-10 (mean of 5 runs); values as reproduced in Lee et al. "
    "(2024), 'Molecule Generation with Fragment Retrieval Augmentation' (f-RAG), Table 1, page 7, which takes them "
    "from Gao et al.",
    "sum_over_23_tasks": {"REINVENT": 14.196, "Graph GA": 13.751},
    "REINVENT": {
        "albuterol_similarity": 0.882, "amlodipine_mpo": 0.635, "celecoxib_rediscovery": 0.710, "deco_hop": 0.666,
        "fexofenadine_mpo": 0.784, "isomers_c7h8n2o2": 0.852, "isomers_c9h10n2o2pf2cl": 0.642, "median1": 0.356,
        "median2": 0.276, "mestranol_similarity": 0.618, "osimertinib_mpo": 0.837, "perindopril_mpo": 0.537,
        "qed": 0.941, "ranolazine_mpo": 0.760, "scaffold_hop": 0.560, "sitagliptin_mpo": 0.021,
        "thiothixene_rediscovery": 0.534, "troglitazone_rediscovery": 0.441, "valsartan_smarts": 0.178,
        "zaleplon_mpo": 0.358,
    },
    "Graph GA": {
        "albuterol_similarity": 0.838, "amlodipine_mpo": 0.661, "celecoxib_rediscovery": 0.630, "deco_hop": 0.619,
        "fexofenadine_mpo": 0.760, "isomers_c7h8n2o2": 0.862, "isomers_c9h10n2o2pf2cl": 0.719, "median1": 0.294,
        "median2": 0.273, "mestranol_similarity": 0.579, "osimertinib_mpo": 0.831, "perindopril_mpo": 0.538,
        "qed": 0.940, "ranolazine_mpo": 0.728, "scaffold_hop": 0.517, "sitagliptin_mpo": 0.433,
        "thiothixene_rediscovery": 0.479, "troglitazone_rediscovery": 0.390, "valsartan_smarts": 0.000,
        "zaleplon_mpo": 0.346,
    },
}  # fmt: skip


def run_task(prior: Path, task: str, seed: int, budget: int, config: ReinventConfig) -> dict:
    """One REINVENT run on one task from a fresh copy of the prior; the PMO scores and how long it took."""
    load_before = os.getloadavg()
    started = time.perf_counter()
    oracle = Oracle(make_objective(f"guacamol:{task}"), budget)
    result = reinvent(genmodels.load(prior), oracle, config, seed=seed)
    values = np.fromiter(oracle.scores.values(), dtype=np.float64)
    stopped_by = "budget" if oracle.exhausted else ("time" if config.max_seconds else "steps")
    return {
        "task": task,
        "seed": seed,
        "auc_top10": oracle.top_auc(top=10, every=100),
        "auc_top1": oracle.top_auc(top=1, every=100),
        "top1": float(np.max(values)),
        "top10_mean": float(np.mean(np.sort(values)[-10:])),
        "top100_mean": float(np.mean(np.sort(values)[-100:])),
        "oracle_calls": oracle.calls,
        "budget": budget,
        "stopped_by": stopped_by,
        "policy_updates": len(result.history),
        "mean_validity": float(np.mean([row["validity"] for row in result.history])),
        "objective_failures": len(oracle.failures),
        "seconds": time.perf_counter() - started,
        "loadavg_start": load_before,
        "loadavg_end": os.getloadavg(),
        "top3": oracle.best(3),
        "curve": oracle.curve(every=500),
    }


def summarise(runs: list[dict]) -> dict:
    """Per task: the mean AUC over the seeds run; sums over the tasks run, beside the published sums over them."""
    tasks = sorted({run["task"] for run in runs})
    per_task = {}
    for task in tasks:
        aucs = [run["auc_top10"] for run in runs if run["task"] == task]
        per_task[task] = {"auc_top10_mean": float(np.mean(aucs)), "auc_top10_std": float(np.std(aucs)),
                          "seeds": len(aucs), "REINVENT (published)": PUBLISHED["REINVENT"][task],
                          "Graph GA (published)": PUBLISHED["Graph GA"][task]}  # fmt: skip
    return {
        "tasks_run": len(tasks),
        "per_task": per_task,
        "sum_auc_top10": float(sum(row["auc_top10_mean"] for row in per_task.values())),
        "published_sum_same_tasks": {
            method: float(sum(PUBLISHED[method][task] for task in tasks)) for method in ("REINVENT", "Graph GA")
        },  # fmt: skip
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prior", type=Path, required=True, help="run or model directory of a SMILES generator")
    parser.add_argument("--tasks", nargs="+", default=["all"], help=f"'all' or some of: {', '.join(OFFLINE_TASKS)}")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--budget", type=int, default=10_000, help="oracle calls per run (PMO: 10,000)")
    parser.add_argument("--max-minutes", type=float, help="also stop a run after this long (recorded as such)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--sigma", type=float, default=500.0)
    parser.add_argument("--diversity-bucket", type=int, default=0, help="Murcko-scaffold bucket (0: no filter)")
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results/pmo.json"))
    parser.add_argument("--resume", action="store_true", help="keep the runs already in --output and skip them")
    parser.add_argument("--jobs", type=int, default=1, help="runs at once, each in its own one-thread process")
    args = parser.parse_args()
    tasks = OFFLINE_TASKS if args.tasks == ["all"] else args.tasks
    unknown = sorted(set(tasks) - set(OFFLINE_TASKS))
    if unknown:
        parser.error(f"unknown or online-only tasks {unknown}; choose from {', '.join(OFFLINE_TASKS)}")
    config = ReinventConfig(steps=10**6, batch_size=args.batch_size, sigma=args.sigma,
                            bucket_size=args.diversity_bucket,
                            max_seconds=args.max_minutes * 60 if args.max_minutes else None)  # fmt: skip
    previous = json.loads(args.output.read_text())["runs"] if args.resume and args.output.is_file() else []
    runs = list(previous)
    done = {(run["task"], run["seed"]) for run in runs}
    pending = [(task, seed) for seed in args.seeds for task in tasks if (task, seed) not in done]
    with ProcessPoolExecutor(args.jobs, mp_context=get_context("spawn"), initializer=torch.set_num_threads,
                             initargs=(1,)) as pool:  # fmt: skip
        futures = [pool.submit(run_task, args.prior, task, seed, args.budget, config) for task, seed in pending]
        for future in as_completed(futures):
            run = future.result()
            runs.append(run)
            print(f"{run['task']} seed {run['seed']}: AUC top-10 {run['auc_top10']:.3f} after {run['oracle_calls']} "
                  f"calls in {run['seconds']:.0f} s (load {run['loadavg_start'][0]:.1f})", flush=True)  # fmt: skip
            write_record(args, config, runs)


def write_record(args: argparse.Namespace, config: ReinventConfig, runs: list[dict]) -> None:
    record = {
        "protocol": "PMO (Gao et al., 2022): REINVENT (Olivecrona et al., 2017) from a CharRNN prior trained on "
        "MOSES; GuacaMol 0.5.5 scoring functions; AUC of the top-10 mean every 100 calls",
        "prior": str(args.prior),
        "settings": {
            "budget": args.budget,
            "batch_size": args.batch_size,
            "sigma": args.sigma,
            "diversity_bucket": args.diversity_bucket,
            "max_minutes": args.max_minutes,
            "replay": config.replay,
            "learning_rate": config.learning_rate,
            "jobs": args.jobs,
            "patience": config.patience,
        },  # fmt: skip
        "summary": summarise(runs),
        "published": PUBLISHED,
        "runs": sorted(runs, key=lambda run: (run["seed"], run["task"])),
        "machine": {"cpus": os.cpu_count()},
        "versions": software_versions(),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()

"""``genmodels molecules``: prepare a SMILES corpus, generate, evaluate with the MOSES metrics, optimise, draw."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from genmodels.cli.lists import ListOptionsCommand
from genmodels.cli.printing import console

molecules_app = typer.Typer(
    help="Drug discovery: SMILES corpora, generation, MOSES metrics, property optimisation.", no_args_is_help=True
)
REPRESENTATIONS = ("smiles", "selfies")
DESIGN_METHODS = ("reinvent", "hill-climb", "latent")


def _check_representation(representation: str) -> None:
    if representation not in REPRESENTATIONS:
        raise typer.BadParameter(f"--representation must be smiles or selfies, got {representation!r}")


@molecules_app.command(
    cls=ListOptionsCommand,
    epilog="Examples:\n\n  genmodels molecules prepare actives.csv --column smiles -o actives.smi\n\n"
    "  genmodels molecules prepare moses -o moses-selfies.smi --representation selfies\n\n"
    "  genmodels train charrnn --data actives.smi\n\n"
    "  genmodels train charrnn --data moses-selfies.smi --set data.tokenizer=selfies",
)
def prepare(
    source: Annotated[str, typer.Argument(help="A CSV/SMI/text file, a MOSES directory, or 'moses'.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Corpus: one molecule per line.")],
    column: Annotated[str, typer.Option(help="SMILES column of a CSV file.")] = "SMILES",
    representation: Annotated[str, typer.Option(help="smiles or selfies.")] = "smiles",
    augment: Annotated[int, typer.Option(help="Extra randomised SMILES per molecule (augmentation).")] = 0,
    seed: Annotated[int, typer.Option(help="Seed of the randomised SMILES.")] = 0,
    max_length: Annotated[
        int, typer.Option(min=1, help="Skip (and count) rows longer than this many characters.")
    ] = 2000,
) -> None:
    """Canonicalise a molecule set (invalid and overlong rows counted and skipped) into a training corpus."""
    import numpy as np

    from genmodels.applications.molecules.datasets import load_smiles
    from genmodels.applications.molecules.outputs import write_smiles
    from genmodels.applications.molecules.smiles import parallel_map, randomize_smiles, to_selfies

    _check_representation(representation)
    molecules = load_smiles(source, column, max_length=max_length)
    lines = list(molecules.smiles)
    rng = np.random.default_rng(seed)
    lines += [randomize_smiles(smiles, rng) for smiles in molecules.smiles for _ in range(augment)]
    if representation == "selfies":
        lines = parallel_map(to_selfies, lines)
    write_smiles(lines, output)
    report = molecules.report
    console.print(f"{report['valid']} valid, {report['invalid']} invalid of {report['rows']} rows; wrote {len(lines)}")
    if report["too_long"]:
        console.print(f"  {report['too_long']} of the invalid rows are longer than {max_length} characters: not parsed")
    for number, text in report["invalid_examples"]:
        console.print(f"  invalid row {number}: {text!r}")


@molecules_app.command(
    cls=ListOptionsCommand,
    epilog="Examples:\n\n  genmodels molecules generate runs/charrnn-moses -n 30000 -o gen.smi\n\n"
    "  genmodels molecules generate runs/charrnn-moses -n 48 -o few.smi --grid few.png --sdf few.sdf",
)
def generate(
    run: Annotated[Path, typer.Argument(help="Run or model directory of a sequence model trained on molecules.")],
    n: Annotated[int, typer.Option("-n", help="Molecules to generate.")] = 1000,
    output: Annotated[Path, typer.Option("--output", "-o", help="SMILES file; a CSV of properties beside it.")] = Path(
        "generated.smi"
    ),
    temperature: Annotated[float, typer.Option(help="Sampling temperature.")] = 1.0,
    max_length: Annotated[int, typer.Option(help="Most tokens per molecule.")] = 120,
    seed: Annotated[int, typer.Option(help="Sampling seed.")] = 0,
    representation: Annotated[
        Optional[str],
        typer.Option(help="What the model writes: smiles or selfies \\[default: selfies for a SELFIES tokenizer]."),
    ] = None,
    sdf: Annotated[Optional[Path], typer.Option(help="Also write the valid molecules as SDF.")] = None,
    grid: Annotated[Optional[Path], typer.Option(help="Also draw the first 24 valid molecules.")] = None,
    syntax_mask: Annotated[
        bool, typer.Option(help="Never end a SMILES with a branch or ring bond open (character models).")
    ] = False,
    chunk_rows: Annotated[
        Optional[int],
        typer.Option(
            help="Generate and write this many molecules at a time (-o a .csv or .parquet of SMILES and properties; "
            "each chunk from its own seed); a killed job run again continues where it stopped."
        ),
    ] = None,
) -> None:
    """Generate molecules: a SMILES file, a CSV with validity and properties, optionally SDF and a picture."""
    import genmodels
    from genmodels.applications.molecules.generation import as_smiles, representation_of, sample_strings
    from genmodels.applications.molecules.outputs import draw_grid, properties_table, write_sdf, write_smiles
    from genmodels.io.files import write_text_atomic

    if representation is not None:
        _check_representation(representation)  # before the model loads
    if chunk_rows is not None and (sdf is not None or grid is not None or output.suffix not in (".csv", ".parquet")):
        raise typer.BadParameter("--chunk-rows writes one .csv or .parquet table (-o), without --sdf or --grid")
    model = genmodels.load(run)
    representation = representation or representation_of(model)
    if chunk_rows is not None:
        from genmodels.applications.bulk import generate_molecules_in_chunks

        def chunk(size: int, chunk_seed: int):
            strings = sample_strings(model, size, max_length, temperature, seed=chunk_seed, syntax_mask=syntax_mask)
            return properties_table(as_smiles(strings, representation))

        settings = {"max_length": max_length, "temperature": temperature, "representation": representation,
                    "syntax_mask": syntax_mask}  # fmt: skip
        count = generate_molecules_in_chunks(n, output, chunk_rows, seed, chunk, settings, str(run.resolve()))
        console.print(f"generated {count} molecules; wrote {output}")
        return
    smiles = as_smiles(
        sample_strings(model, n, max_length, temperature, seed=seed, syntax_mask=syntax_mask), representation
    )
    write_smiles(smiles, output)
    table = properties_table(smiles)
    write_text_atomic(output.with_suffix(".csv"), table.to_csv(index=False))
    written = [output, output.with_suffix(".csv")]
    if sdf is not None:
        write_sdf(smiles, sdf)
        written.append(sdf)
    if grid is not None:
        draw_grid(table.loc[table["valid"], "smiles"].tolist()[:24], grid)
        written.append(grid)
    console.print(f"{int(table['valid'].sum())} of {n} valid; wrote {', '.join(map(str, written))}")


@molecules_app.command(
    cls=ListOptionsCommand,
    epilog="Examples:\n\n  genmodels molecules vote runs/charrnn-a runs/charrnn-b -n 1000 -o voted.smi\n\n"
    "  genmodels molecules vote runs/charrnn runs/smiles-vae -n 500 -o voted.smi --candidates 8 --known moses",
)
def vote(
    runs: Annotated[list[Path], typer.Argument(help="Run or model directories of the member generators.")],
    n: Annotated[int, typer.Option("-n", help="Molecules to keep.")] = 1000,
    output: Annotated[Path, typer.Option("--output", "-o", help="SMILES file; a CSV with sources beside it.")] = Path(
        "voted.smi"
    ),
    candidates: Annotated[int, typer.Option(help="Candidates proposed by every member per molecule kept.")] = 4,
    known: Annotated[Optional[str], typer.Option(help="Known molecules (novelty voter): file or 'moses'.")] = None,
    max_length: Annotated[int, typer.Option(help="Most tokens per proposed molecule.")] = 120,
    seed: Annotated[int, typer.Option(help="Sampling seed.")] = 0,
) -> None:
    """Generate with several models and keep what the voters (validity, novelty, filters, likelihoods) rank best."""
    import pandas as pd

    import genmodels
    from genmodels.applications.molecules.datasets import load_smiles
    from genmodels.applications.molecules.outputs import write_smiles
    from genmodels.applications.molecules.voting import vote_molecules
    from genmodels.io.files import write_text_atomic

    members = [genmodels.load(run) for run in runs]
    known_set = set(load_smiles(known).smiles) if known else None
    result = vote_molecules(members, n, candidates, known_set, max_length, seed)
    write_smiles(result.smiles, output)
    table = pd.DataFrame({"smiles": result.smiles, "source": [str(runs[index]) for index in result.sources]})
    write_text_atomic(output.with_suffix(".csv"), table.to_csv(index=False))
    shares = table["source"].value_counts().to_dict()
    console.print(f"kept {len(result.smiles)} of {result.proposed} proposed; voters {', '.join(result.voters)}")
    console.print(f"from: {shares}; wrote {output} and {output.with_suffix('.csv')}")


@molecules_app.command(
    cls=ListOptionsCommand,
    epilog="Examples:\n\n  genmodels molecules evaluate gen.smi --reference moses\n\n"
    "  genmodels molecules evaluate gen.smi --reference ../data/moses/ -o metrics.json",
)
def evaluate(
    generated: Annotated[Path, typer.Argument(help="Generated SMILES (.smi, .txt, or .csv with --column).")],
    reference: Annotated[str, typer.Option(help="'moses' (shipped subsets), a MOSES directory, or a SMILES file.")],
    train: Annotated[Optional[str], typer.Option(help="Training set for novelty \\[default: the reference's].")] = None,
    column: Annotated[str, typer.Option(help="SMILES column of CSV inputs.")] = "SMILES",
    output: Annotated[
        Optional[Path], typer.Option("--output", "-o", help="JSON \\[default: GENERATED.metrics.json].")
    ] = None,
    fcd: Annotated[bool, typer.Option(help="Compute the Frechet ChemNet distance (slowest metric).")] = True,
    n_jobs: Annotated[int, typer.Option(help="Worker processes.")] = 2,
    cache_dir: Annotated[
        Optional[Path], typer.Option(help="Reference statistics cache \\[default: $GENMODELS_CACHE_DIR or ~/.cache].")
    ] = None,
) -> None:
    """The MOSES metrics of any list of SMILES, and property-distribution plots against the test set.

    The reference sets' statistics are computed on first use and cached (see genmodels molecules stats).
    """
    from genmodels.applications.molecules.datasets import read_smiles_strings
    from genmodels.applications.molecules.metrics import MIN_VALID_FOR_REFERENCE, evaluate_moses
    from genmodels.applications.molecules.outputs import plot_property_distributions
    from genmodels.io.files import write_text_atomic
    from genmodels.io.versions import software_versions

    strings = read_smiles_strings(generated, column)
    references = _reference_statistics(reference, train, column, n_jobs, cache_dir)
    evaluation = evaluate_moses(strings, *references, n_jobs=n_jobs, fcd=fcd)
    metrics = evaluation.metrics
    output = output or generated.with_suffix(".metrics.json")
    plot = None  # the property histograms need molecules to draw, as the distances do
    if len(next(iter(evaluation.generated_properties.values()), [])) >= MIN_VALID_FOR_REFERENCE:
        test_properties = references[1].properties
        plot = str(plot_property_distributions(evaluation.generated_properties, test_properties,
                                               output.with_suffix(".png")))  # fmt: skip
    record = {"generated": str(generated), "reference": reference, "metrics": metrics, "properties_plot": plot,
              "versions": software_versions()}  # fmt: skip
    write_text_atomic(output, json.dumps(record, indent=2) + "\n")
    for name, value in metrics.items():
        console.print(f"{name}: {'n/a' if value is None else f'{value:.4g}'}")
    if None in metrics.values():
        console.print(
            f"n/a: unique@k needs k valid molecules; the reference-set metrics need {MIN_VALID_FOR_REFERENCE} "
            f"(here {round(metrics['valid'] * metrics['count'])} of {metrics['count']} are valid)"
        )
    console.print(f"wrote {output}")


def _reference_statistics(reference: str, train: str | None, column: str, n_jobs: int, cache_dir: Path | None):
    """(train, test, scaffold test) statistics of a reference, cached; train only for novelty, None if not given."""
    from genmodels.applications.molecules.reference_statistics import reference_statistics

    def statistics(source: str, split: str, full: bool = True):
        return reference_statistics(source, split, column, full=full, n_jobs=n_jobs, cache_dir=cache_dir)

    if reference == "moses" or Path(reference).is_dir():
        return (
            statistics(train or reference, "train", full=False),
            statistics(reference, "test"),
            statistics(reference, "test_scaffolds"),
        )
    return (statistics(train, "train", full=False) if train else None), statistics(reference, "test"), None


@molecules_app.command(
    cls=ListOptionsCommand,
    epilog="Examples:\n\n  genmodels molecules stats moses\n\n"
    "  genmodels molecules stats ../data/moses/\n\n  genmodels molecules stats actives.csv --column smiles",
)
def stats(
    reference: Annotated[str, typer.Argument(help="'moses' (shipped subsets), a MOSES directory, or a SMILES file.")],
    column: Annotated[str, typer.Option(help="SMILES column of a CSV file.")] = "SMILES",
    n_jobs: Annotated[int, typer.Option(help="Worker processes.")] = 2,
    cache_dir: Annotated[
        Optional[Path], typer.Option(help="Reference statistics cache \\[default: $GENMODELS_CACHE_DIR or ~/.cache].")
    ] = None,
) -> None:
    """Compute and cache a reference set's statistics (ChemNet, fingerprints, fragments, scaffolds, properties).

    evaluate does this on first use; run it ahead so that every evaluation after a training run reads them.
    A cache that is stale (another file, other RDKit or fcd-torch versions) or damaged is rebuilt.
    """
    import time

    from genmodels.applications.molecules.reference_statistics import cache_root

    started = time.perf_counter()
    train, test, scaffolds = _reference_statistics(reference, None, column, n_jobs, cache_dir)
    if train is not None:
        console.print(f"train: {len(train.canonical)} canonical SMILES")
    for name, statistics in (("test", test), ("test_scaffolds", scaffolds)):
        if statistics is not None:
            console.print(f"{name}: {len(statistics.canonical)} molecules, {len(statistics.fragments)} fragments, "
                          f"{len(statistics.scaffolds)} scaffolds")  # fmt: skip
    console.print(f"cached in {cache_dir or cache_root()} ({time.perf_counter() - started:.1f} s)")


@molecules_app.command(
    cls=ListOptionsCommand,
    epilog="Examples:\n\n  genmodels molecules optimize runs/charrnn-moses --objective qed -o qed-run\n\n"
    "  genmodels molecules optimize runs/charrnn-moses --method reinvent --objective guacamol:osimertinib_mpo "
    "--oracle-budget 10000 -o osimertinib\n\n"
    "  genmodels molecules optimize runs/charrnn-moses --method reinvent "
    "--objective '0.7*guacamol:zaleplon_mpo+0.3*qed' -o zaleplon\n\n"
    "  genmodels molecules optimize runs/smiles-vae-moses --objective logp -o logp-latent\n\n"
    "  genmodels molecules optimize runs/charrnn-moses --objective mypackage.scores:activity --rounds 10",
)
def optimize(
    run: Annotated[Path, typer.Argument(help="Run or model directory: a sequence model or a SMILES VAE.")],
    objective: Annotated[
        str,
        typer.Option(
            help="qed, logp, sa, weight, guacamol:TASK, module:function, or a weighted sum such as "
            "'0.7*guacamol:zaleplon_mpo+0.3*qed' (higher is better)."
        ),
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder for the top molecules (and tuned model).")],
    method: Annotated[
        str,
        typer.Option(
            help="reinvent, hill-climb or latent \\[default: latent for a SMILES VAE, else hill-climb].",
            show_default=False,
        ),
    ] = "auto",
    oracle_budget: Annotated[
        Optional[int], typer.Option(help="Most distinct molecules scored (every one counts, failures too).")
    ] = None,
    rounds: Annotated[int, typer.Option(help="Hill-climbing: sample / select / fine-tune rounds.")] = 5,
    samples: Annotated[int, typer.Option(help="Hill-climbing: molecules sampled per round.")] = 1000,
    keep: Annotated[int, typer.Option(help="Best molecules kept (latent route: also the starting codes).")] = 100,
    steps: Annotated[
        Optional[int],
        typer.Option(
            help="Fine-tuning steps per round, latent gradient steps, or REINVENT updates \\[default: 100; "
            "REINVENT with --oracle-budget: until the budget is spent].",
            show_default=False,
        ),
    ] = None,
    batch_size: Annotated[int, typer.Option(help="REINVENT: molecules sampled per update.")] = 64,
    sigma: Annotated[float, typer.Option(help="REINVENT: weight of the score against the prior's likelihood.")] = 500.0,
    diversity_bucket: Annotated[
        int, typer.Option(help="REINVENT: rewarded molecules per Murcko scaffold (0: no diversity filter).")
    ] = 25,
    known: Annotated[str, typer.Option(help="Molecules for novelty (and the latent predictor): file or 'moses'.")] = (
        "moses"
    ),
    known_count: Annotated[int, typer.Option(help="Latent route: known molecules to fit on.")] = 5000,
    seed: Annotated[int, typer.Option(help="Seed.")] = 0,
) -> None:
    """Design molecules for an objective: REINVENT or hill-climbing (sequence models), latent ascent (SMILES VAE)."""
    import genmodels
    from genmodels.applications.molecules.datasets import load_smiles
    from genmodels.applications.molecules.generation import hill_climb
    from genmodels.applications.molecules.latent_optimization import optimize_latent
    from genmodels.applications.molecules.objectives import Oracle, make_objective
    from genmodels.applications.molecules.outputs import write_design_outputs
    from genmodels.applications.molecules.reinvent import ReinventConfig, reinvent
    from genmodels.io.files import write_text_atomic
    from genmodels.io.run_directory import claim_run_directory

    if method not in ("auto", *DESIGN_METHODS):
        raise typer.BadParameter(f"--method must be one of {', '.join(DESIGN_METHODS)}, got {method!r}")
    oracle = Oracle(make_objective(objective), oracle_budget)
    reinvent_steps = steps or (10**9 if oracle_budget else 100)
    steps = steps or 100
    reinvent_config = ReinventConfig(
        steps=reinvent_steps, batch_size=batch_size, sigma=sigma, bucket_size=diversity_bucket
    )
    with claim_run_directory(output, refusal_hint="optimised molecules go to a new folder; choose another -o"):
        model = genmodels.load(run)
        is_vae = hasattr(model, "rows_to_strings")  # a SMILES VAE decodes whole lines from a latent code
        method = method if method != "auto" else ("latent" if is_vae else "hill-climb")
        if is_vae != (method == "latent"):
            raise typer.BadParameter(
                f"--method {method} needs {'a SMILES VAE' if method == 'latent' else 'a sequence model'}; {run} is a "
                f"{model.model_type}"
            )
        known_smiles = load_smiles(known).smiles
        if method == "latent":
            result = optimize_latent(model, oracle, known_smiles[:known_count], keep, steps, keep=keep, seed=seed)
        elif method == "reinvent":
            result = reinvent(model, oracle, reinvent_config, seed=seed)
        else:
            result = hill_climb(model, oracle, rounds, samples, keep, steps, seed=seed)
        if method != "latent":
            model.save_pretrained(output / "model", base=str(run), objective=objective)
        write_design_outputs(output, result.top, oracle.curve(), set(known_smiles))
        record = {"method": method, "objective": objective, "known": known, "seed": seed,
                  "oracle_budget": oracle_budget, "oracle_calls": oracle.calls, "failures": len(oracle.failures),
                  "failure_examples": dict(list(oracle.failures.items())[:10]), "summary": result.summary,
                  "history": result.history}  # fmt: skip
        write_text_atomic(output / "history.json", json.dumps(record, indent=2) + "\n")
        for row in result.history[:: max(1, len(result.history) // 20)]:
            console.print(", ".join(f"{name} {value:.3f}" if isinstance(value, float) else f"{name} {value}"
                                    for name, value in row.items()))  # fmt: skip
        if oracle.failures:
            first, why = next(iter(oracle.failures.items()))
            console.print(f"{len(oracle.failures)} molecules scored 0: the objective failed, e.g. {first}: {why}")
        console.print(f"{method}: {oracle.calls} oracle calls; wrote {output}/top.csv, top.png, curve.csv, "
                      "curve.png and history.json")  # fmt: skip


@molecules_app.command(cls=ListOptionsCommand, epilog="Examples:\n\n  genmodels molecules draw gen.smi -o grid.png")
def draw(
    smiles_file: Annotated[Path, typer.Argument(help="SMILES file.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="PNG file.")] = Path("molecules.png"),
    count: Annotated[int, typer.Option(help="Molecules to draw.")] = 24,
) -> None:
    """A grid picture of the first valid molecules of a file."""
    from genmodels.applications.molecules.datasets import load_smiles
    from genmodels.applications.molecules.outputs import draw_grid

    draw_grid(load_smiles(smiles_file, canonical=False).smiles[:count], output)
    console.print(f"wrote {output}")

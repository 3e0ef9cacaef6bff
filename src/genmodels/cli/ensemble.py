"""``genmodels ensemble create``: combine saved models into one ensemble directory."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from genmodels.cli.lists import ListOptionsCommand
from genmodels.cli.printing import console

ensemble_app = typer.Typer(help="Ensembles of saved models: mixture or voting.", no_args_is_help=True)

MemberScores = Annotated[
    Optional[list[str]],
    typer.Option(help="Anomaly score of each member, in order (one or more): nll, input_complexity, reconstruction..."),
]
Voters = Annotated[
    str,
    typer.Option(
        help="Vote: members, a critic of real data against the pooled proposals, the realism score against "
        "real rows, or all (members and critic)."
    ),
]
VoteStrata = Annotated[
    int, typer.Option(help="Vote: k-means cells of real data whose shares the kept samples keep (0: none).")
]
Calibrate = Annotated[
    bool,
    typer.Option(
        help="On the first run's data: fit the mixture weights by EM (members with likelihoods), the critic "
        "(training split, validation to keep its best weights), the realism voter's reference rows and the "
        "strata (training split), and every voter's acceptance threshold."
    ),
]


@ensemble_app.command(
    cls=ListOptionsCommand,
    epilog="Examples:\n\n  genmodels ensemble create runs/gan-a runs/gan-b runs/vae -o runs/ens --strategy vote\n\n"
    "  genmodels sample runs/ens -n 64 --strategy vote --candidates 4\n\n"
    "  genmodels sample runs/ens -n 64 --strategy rejection\n\n  genmodels evaluate runs/ens\n\n"
    "  genmodels ensemble create runs/made runs/vae -o runs/detector --member-score input_complexity nll",
)
def create(
    runs: Annotated[list[Path], typer.Argument(help="Run or model directories of the members.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Ensemble directory.")],
    weights: Annotated[Optional[list[float]], typer.Option(help="Mixture weights, one per member.")] = None,
    strategy: Annotated[str, typer.Option(help="Default sampling strategy: mixture, vote or rejection.")] = "mixture",
    candidates: Annotated[int, typer.Option(help="Vote: candidates per member per sample kept.")] = 4,
    combination: Annotated[
        str, typer.Option(help="Anomaly score: mean of the members' standardised scores, or of their ranks.")
    ] = "mean",
    member_score: MemberScores = None,
    aggregation: Annotated[str, typer.Option(help="Vote: borda, or majority of calibrated voters.")] = "borda",
    voters: Voters = "members",
    vote_strata: VoteStrata = 0,
    calibrate: Calibrate = False,
) -> None:
    """Save the members as one ensemble; its run.json reuses the first member's data, so evaluate works."""
    import genmodels
    from genmodels.ensembles import ensemble_of, trained_on_binarized
    from genmodels.io.run_directory import claim_run_directory
    from genmodels.runs import MODEL_DIR

    if (aggregation == "majority" or voters != "members" or vote_strata) and not calibrate:
        raise typer.BadParameter(
            "majority voting, a critic, the realism voter and strata need --calibrate (they are fitted on real data)"
        )
    with claim_run_directory(output, refusal_hint="an ensemble is written to a new directory; choose another -o"):
        members = [genmodels.load(run) for run in runs]
        ensemble = ensemble_of(
            members,
            weights,
            strategy=strategy,
            candidates=candidates,
            combination=combination,
            member_scores=tuple(member_score or ()),
            aggregation=aggregation,
            voters=voters,
            vote_strata=vote_strata,
            member_binarized=tuple(trained_on_binarized(run) for run in runs),
        )
        if calibrate:
            _calibrate(ensemble, runs[0], fit_weights=not weights)
        ensemble.save_pretrained(output / MODEL_DIR, members=[str(run) for run in runs])
        _write_run_spec(runs, output)
    console.print(f"ensemble of {len(members)} ({', '.join(m.model_type for m in members)}) -> {output}")


def _write_run_spec(runs: list[Path], output: Path) -> None:
    """The first member's run.json, naming the members, so `evaluate` finds the data (none without one)."""
    from genmodels.io.files import read_json, write_text_atomic
    from genmodels.runs import RUN_FILE

    first_run = runs[0] / RUN_FILE
    if first_run.is_file():
        spec = read_json(first_run, "a run's spec")
        spec.update(model="ensemble", model_config={}, members=[str(run) for run in runs])
        write_text_atomic(output / RUN_FILE, json.dumps(spec, indent=2) + "\n")


def _calibrate(ensemble, run: Path, fit_weights: bool) -> None:
    """EM weights (unless given), critic, realism rows, strata and voter thresholds on ``run``'s data."""
    from genmodels.data import load_data
    from genmodels.runs import load_run_spec

    data = load_data(load_run_spec(run).data)
    train, validation = data.train.tensors()["x"], data.validation.tensors()["x"]
    if ensemble.critic is not None:
        report = ensemble.fit_vote_critic(train, validation)
        console.print(f"critic: held-out accuracy {report['accuracy']:.3f}, logistic loss {report['loss']:.4f}")
    if ensemble.config.voters == "realism":
        kept = ensemble.fit_vote_realism(train)["reference_rows"]
        console.print(f"realism voter: {kept} real reference rows")
    if ensemble.config.vote_strata:
        shares = ensemble.fit_vote_strata(train)
        console.print(f"strata: {len(shares)} cells, largest share {max(shares):.3f}")
    if fit_weights and ensemble.log_prob_kind != "none":
        weights = ensemble.fit_weights(validation)
        console.print("mixture weights (EM): " + ", ".join(f"{weight:.3f}" for weight in weights))
    thresholds = ensemble.calibrate_votes(validation)
    console.print("voter thresholds: " + ", ".join(f"{threshold:.4g}" for threshold in thresholds))

"""Ensembles against their best member: sample quality, mixture NLL, anomaly AUROC, molecules.

    OMP_NUM_THREADS=1 python benchmarks/ensembles.py --seconds 90
    OMP_NUM_THREADS=1 python benchmarks/ensembles.py --seconds 90 --phases images anomalies   # keep the others

1. Images (grey mnist5k): two MLP GANs (seeds 0 and 1) and a conv VAE with the continuous
   Bernoulli likelihood (so it can score the GANs' grey samples), each trained for ``--seconds``.
   Every member alone and the ensemble by ``mixture`` (equal weights), ``vote`` (4 candidates
   per member per kept sample; voters: the GANs' discriminators and the VAE's importance-weighted
   log-likelihood with 20 samples; Borda count, and majority over thresholds calibrated on the
   validation images; then a critic of the training images against the pooled proposals, alone
   and beside the members; then the realism score against the training images, with and without
   100 strata; the members and the realism votes also on the three draws of the phase below)
   and ``rejection`` (discriminator rejection sampling of the GAN
   members) draw 1,000 samples, judged against the 4,000 training images in the mnist5k feature
   network (fd, precision, recall, coverage), with the seconds per 1,000 samples as the extra cost.
   Phase ``comparable``: three conv VAEs of that kind (seeds 0, 1, 2), each alone, their mixture,
   the critic vote with 1, 2 or 4 candidates per member, and the realism vote (4 per member) with
   and without 100 strata (k-means cells of the training images, each keeping its share), with two
   controls: the strata alone in a random order, and the best member alone under the same vote.
   Every row on three draws of 1,000 samples, against the training and the held-out images, with
   the median distance of the samples to their nearest training image.
2. Mixture NLL (binarized mnist5k): a conv VAE and a MADE, weights fitted by EM on validation;
   test NLL of each member and of the mixture.
3. Anomalies (one-class mnist5k, every digit): two VAEs and two MADEs (seeds 0 and 1) trained on
   the normal digit; every member as a detector with each of its scores (NLL, the input-complexity
   corrected NLL, the VAE's reconstruction error) and ensembles of such detectors, each member
   with its own score, by standardised mean and by rank; AUROC per class and mean.
4. Molecules (the shipped 20,000-molecule MOSES subset): two CharRNNs (seeds 0 and 1), 2,000
   molecules each alone and by voting (4 candidates per member; voters: validity, novelty,
   filters, both likelihoods), MOSES metrics against the shipped test subset.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from genmodels.applications.anomaly.detector import Detector
from genmodels.applications.anomaly.metrics import detection_metrics
from genmodels.applications.anomaly.protocols import one_class_split, train_on_normal
from genmodels.applications.molecules.datasets import load_smiles
from genmodels.applications.molecules.generation import sample_strings
from genmodels.applications.molecules.metrics import moses_metrics
from genmodels.applications.molecules.voting import vote_molecules
from genmodels.data import DataSpec, load_data
from genmodels.ensembles import ensemble_of
from genmodels.ensembles.voters.strata import assign_strata, stratified_selection
from genmodels.evaluation.feature_network import load_feature_network
from genmodels.evaluation.generated import draw_samples, evaluate_samples, held_out_images, real_data_floor
from genmodels.evaluation.sample_quality import sample_quality
from genmodels.io.versions import software_versions
from genmodels.runs import make_spec, train_run

SAMPLES = 1000
MOLECULES = 2000
CANDIDATES = 4
PHASES = ("images", "comparable", "anomalies", "molecules")
VOTE_CANDIDATES = (1, 2, 4)
"""Candidates per member per kept sample of the comparable phase's critic vote: its selection pressure."""
DRAWS = (0, 1, 2)
"""Seeds of the independent draws of ``SAMPLES`` every comparable-phase row is judged on."""
STRATA = 100
"""k-means cells of the training images whose shares the comparable phase's stratified votes keep."""
MEAN_KEYS = ("fd_mnist5k", "precision", "recall", "coverage", "median_distance_to_nearest_training_image",
             "sampling_seconds")  # fmt: skip
IMAGE_STRATEGIES = (("mixture", "borda"), ("vote", "borda"), ("vote", "majority"), ("rejection", "borda"))
MEMBER_SCORES = {"vae": ("nll", "reconstruction", "input_complexity"), "made": ("nll", "input_complexity")}
ANOMALY_ENSEMBLES = {  # detectors: (member, its anomaly score)
    "VAE + MADE, NLL": (("VAE seed 0", "nll"), ("MADE seed 0", "nll")),
    "two VAEs, NLL": (("VAE seed 0", "nll"), ("VAE seed 1", "nll")),
    "two MADEs, NLL": (("MADE seed 0", "nll"), ("MADE seed 1", "nll")),
    "two MADEs, corrected": (("MADE seed 0", "input_complexity"), ("MADE seed 1", "input_complexity")),
    "MADE corrected + VAE NLL": (("MADE seed 0", "input_complexity"), ("VAE seed 0", "nll")),
    "MADE corrected + VAE NLL, seed 1": (("MADE seed 1", "input_complexity"), ("VAE seed 1", "nll")),
    "MADE corrected + MADE NLL (one model)": (("MADE seed 0", "input_complexity"), ("MADE seed 0", "nll")),
    "VAE corrected + VAE NLL (one model)": (("VAE seed 0", "input_complexity"), ("VAE seed 0", "nll")),
    "VAE corrected + VAE NLL (one model), seed 1": (("VAE seed 1", "input_complexity"), ("VAE seed 1", "nll")),
    "MADE and VAE, corrected and NLL": tuple((f"{model} seed 0", score) for model in ("MADE", "VAE")
                                             for score in ("input_complexity", "nll")),  # fmt: skip
    "both seeds of both, corrected and NLL": tuple((f"{model} seed {seed}", score) for model in ("MADE", "VAE")
                                                   for seed in (0, 1) for score in ("input_complexity", "nll")),
}  # fmt: skip


def train(model: str, data: dict, model_config: dict, trainer: dict, seconds: float, seed: int):
    settings = {"max_steps": 10**7, "max_seconds": seconds, "val_every": 500, "checkpoint_every": 10**7,
                "seed": seed, "progress_bar": False, "tensorboard": False, **trainer}  # fmt: skip
    spec = make_spec(model, data, model_config, settings)
    with tempfile.TemporaryDirectory() as run_dir:
        outcome = train_run(spec, Path(run_dir) / "run")
    return outcome.model.eval(), {"model": model, "seed": seed, "steps": outcome.fit.steps,
                                  "train_seconds": outcome.fit.seconds}  # fmt: skip


def timed_quality(model, data) -> dict:
    started = time.perf_counter()
    quality = evaluate_samples(model, data, num_samples=SAMPLES)
    return {**quality, "seconds_with_metrics": time.perf_counter() - started}


def image_ensembles(seconds: float) -> dict:
    grey = load_data(DataSpec("mnist5k"))
    members, training = {}, {}
    for name, (model, binarize, config, trainer, seed) in {
        "GAN seed 0": ("gan", False, {}, {"batch_size": 64}, 0),
        "GAN seed 1": ("gan", False, {}, {"batch_size": 64}, 1),
        "conv VAE": (
            "conv-vae",
            False,
            {"latent_dim": 20, "likelihood": "continuous_bernoulli"},
            {"batch_size": 100, "learning_rate": 1e-3},
            0,
        ),
        "conv VAE (binarized)": ("conv-vae", True, {"latent_dim": 20}, {"batch_size": 100, "learning_rate": 1e-3}, 0),
        "MADE": ("made", True, {"hidden_sizes": [500]}, {"batch_size": 100}, 0),
    }.items():
        members[name], training[name] = train(model, {"name": "mnist5k", "binarize": binarize}, config, trainer,
                                              seconds, seed)  # fmt: skip
        print("trained", name, training[name], flush=True)
    members["conv VAE"].config.importance_samples = 20  # the VAE votes with a 20-sample estimate
    quality = {"floor (real held-out vs train)": real_data_floor(grey)}
    for name in ("GAN seed 0", "GAN seed 1", "conv VAE"):
        quality[name] = timed_quality(members[name], grey)
        print(name, quality[name], flush=True)
    ensemble = ensemble_of([members["GAN seed 0"], members["GAN seed 1"], members["conv VAE"]], candidates=CANDIDATES)
    torch.manual_seed(0)
    ensemble.calibrate_votes(grey.validation.images)
    for strategy, aggregation in IMAGE_STRATEGIES:
        ensemble.config.strategy, ensemble.config.aggregation = strategy, aggregation
        name = f"ensemble: {strategy}" + (" (majority)" if aggregation == "majority" else "")
        quality[name] = timed_quality(ensemble, grey)
        if strategy == "rejection":
            quality[name]["acceptance"] = ensemble.last_acceptance
        if aggregation == "majority":
            quality[name]["voters_accepting_kept"] = np.bincount(ensemble.last_approvals.numpy(), minlength=4).tolist()
        quality[name]["kept_per_member"] = np.bincount(ensemble.last_sources.numpy(), minlength=3).tolist()
        print(name, quality[name], flush=True)
    critic = ensemble_of(list(ensemble.members), strategy="vote", voters="critic", candidates=CANDIDATES)
    torch.manual_seed(0)
    started = time.perf_counter()
    critic_report = {**critic.fit_vote_critic(grey.train.images, grey.validation.images),
                     "seconds": time.perf_counter() - started}  # fmt: skip
    print("critic", critic_report, flush=True)
    for voters in ("critic", "all"):
        critic.config.voters = voters
        name = "ensemble: vote (critic)" if voters == "critic" else "ensemble: vote (critic and members)"
        quality[name] = {**timed_quality(critic, grey), "critic": critic_report,
                         "kept_per_member": np.bincount(critic.last_sources.numpy(), minlength=3).tolist()}  # fmt: skip
        print(name, quality[name], flush=True)
    realism = ensemble_of(list(ensemble.members), strategy="vote", voters="realism", candidates=CANDIDATES,
                          vote_strata=STRATA)  # fmt: skip
    realism.fit_vote_realism(grey.train.images)
    realism.fit_vote_strata(grey.train.images)
    network = load_feature_network("mnist5k")
    over_three_draws = {
        name: over_draws(members[name], grey, network) for name in ("GAN seed 0", "GAN seed 1", "conv VAE")
    }
    for strata in (STRATA, 0):
        realism.config.vote_strata = strata
        name = "ensemble: vote (realism" + (f", {strata} strata)" if strata else ")")
        quality[name] = timed_quality(realism, grey)
        quality[name]["kept_per_member"] = np.bincount(realism.last_sources.numpy(), minlength=3).tolist()
        print(name, quality[name], flush=True)
        over_three_draws[name] = over_draws(realism, grey, network)
    for name, values in over_three_draws.items():
        print(name, "over draws", {key: round(value, 3) for key, value in values["mean"].items()}, flush=True)
    for name in ("GAN seed 0", "GAN seed 1"):
        single = ensemble_of([members[name]], strategy="rejection")
        quality[f"{name} + rejection"] = timed_quality(single, grey)
        quality[f"{name} + rejection"]["acceptance"] = single.last_acceptance
    binary = load_data(DataSpec("mnist5k", binarize=True))
    likelihood = {}
    for name in ("conv VAE (binarized)", "MADE"):
        torch.manual_seed(0)
        with torch.no_grad():
            likelihood[name] = float(-members[name].log_prob(binary.test.images).mean())
    mixture = ensemble_of([members["conv VAE (binarized)"], members["MADE"]])
    torch.manual_seed(0)
    weights = mixture.fit_weights(binary.validation.images)
    torch.manual_seed(0)
    with torch.no_grad():
        likelihood["mixture (EM weights)"] = float(-mixture.log_prob(binary.test.images).mean())
    likelihood["weights"] = weights
    return {"training": training, "sample_quality": quality, "over_three_draws": over_three_draws,
            "test_nll_nats": likelihood}  # fmt: skip


def comparable_ensembles(seconds: float) -> dict:
    """Three conv VAEs of one kind (seeds 0-2): each alone, their mixture, and votes by critic and by realism.

    Every row is judged on the same three independent draws of 1,000 samples (``DRAWS``), against the
    training images and against the held-out ones, with the distance of each sample to its nearest
    training image (does the vote keep near-copies?). Controls: the strata with no voter (a random
    order), and the best member alone under the realism vote with as many candidates as the ensemble's.
    """
    grey = load_data(DataSpec("mnist5k"))
    network = load_feature_network("mnist5k")
    members, training, quality = [], {}, {"real held-out images": judged(held_out_images(grey), grey, network)}
    data, config = {"name": "mnist5k", "binarize": False}, {"latent_dim": 20, "likelihood": "continuous_bernoulli"}
    for seed in (0, 1, 2):
        member, training[f"conv VAE seed {seed}"] = train(
            "conv-vae", data, config, {"batch_size": 100, "learning_rate": 1e-3}, seconds, seed
        )
        members.append(member)
        quality[f"conv VAE seed {seed}"] = over_draws(member, grey, network)
    quality["mixture, equal weights"] = over_draws(ensemble_of(members), grey, network)
    critic = ensemble_of(members, strategy="vote", voters="critic")
    torch.manual_seed(0)
    critic_report = critic.fit_vote_critic(grey.train.images, grey.validation.images)
    for candidates in VOTE_CANDIDATES:
        critic.config.candidates = candidates
        quality[f"vote (critic), {candidates} per member"] = over_draws(critic, grey, network)
    started = time.perf_counter()
    realism = ensemble_of(members, strategy="vote", voters="realism", candidates=CANDIDATES, vote_strata=STRATA)
    realism.fit_vote_realism(grey.train.images)
    realism.fit_vote_strata(grey.train.images)
    fitting_seconds = time.perf_counter() - started
    quality[f"vote (realism, {STRATA} strata), {CANDIDATES} per member"] = over_draws(realism, grey, network)
    quality[f"strata alone (random order), {CANDIDATES} per member"] = over_draws(
        lambda seed: strata_alone(realism, seed), grey, network
    )
    realism.config.vote_strata = 0
    quality[f"vote (realism), {CANDIDATES} per member"] = over_draws(realism, grey, network)
    best = min(range(3), key=lambda k: quality[f"conv VAE seed {k}"]["mean"]["fd_mnist5k"])
    alone = ensemble_of([members[best]], strategy="vote", voters="realism", candidates=3 * CANDIDATES,
                        vote_strata=STRATA)  # fmt: skip
    alone.fit_vote_realism(grey.train.images)
    alone.fit_vote_strata(grey.train.images)
    quality[f"best member (seed {best}) alone, vote (realism, {STRATA} strata), {3 * CANDIDATES} candidates"] = (
        over_draws(alone, grey, network)
    )
    for name, values in quality.items():
        print(name, {key: round(value, 3) for key, value in values.get("mean", {}).items()}, flush=True)
    return {"training": training, "critic": critic_report, "realism_and_strata_fit_seconds": fitting_seconds,
            "draws": list(DRAWS), "sample_quality": quality}  # fmt: skip


def judged(samples: torch.Tensor, grey, network) -> dict:
    """Metrics against the training images and the held-out ones; median distance to the nearest training image."""
    held_out = sample_quality(network, held_out_images(grey), samples, metrics=("fd", "prd"))
    train_rows = grey.train.images.flatten(1)
    nearest = torch.cat([torch.cdist(chunk.flatten(1), train_rows).amin(1) for chunk in samples.split(1000)])
    return {
        **sample_quality(network, grey.train.images, samples),
        "held_out_reference": {key: held_out[key] for key in ("fd_mnist5k", "precision", "recall")},
        "median_distance_to_nearest_training_image": float(nearest.median()),
    }


def over_draws(model, grey, network) -> dict:
    """``model`` (or a function of the seed returning samples) judged on each draw of ``DRAWS``, and the means."""
    draws = []
    for seed in DRAWS:
        started = time.perf_counter()
        samples = model(seed) if callable(model) and not isinstance(model, torch.nn.Module) else (
            draw_samples(model, SAMPLES, seed))  # fmt: skip
        row = {**judged(samples, grey, network), "seed": seed, "sampling_seconds": time.perf_counter() - started}
        if getattr(model, "last_sources", None) is not None:
            row["kept_per_member"] = np.bincount(model.last_sources.numpy(), minlength=len(model.members)).tolist()
        draws.append(row)
    means = {key: float(np.mean([row[key] for row in draws])) for key in MEAN_KEYS}
    means.update({f"held_out_{key}": float(np.mean([row["held_out_reference"][key] for row in draws]))
                  for key in ("fd_mnist5k", "precision", "recall")})  # fmt: skip
    return {"mean": means, "draws": draws}


def strata_alone(ensemble, seed: int) -> torch.Tensor:
    """The vote's pool and strata with no voter: a random order, each stratum's quota of it."""
    generator = torch.Generator().manual_seed(seed)
    pool = torch.cat([member.sample(SAMPLES * CANDIDATES, generator=generator) for member in ensemble.members])
    order = torch.randperm(len(pool), generator=generator)
    strata = assign_strata(pool, ensemble.strata_centres)
    return pool[stratified_selection(order, strata, ensemble.strata_shares, SAMPLES)]


def anomaly_ensembles(classes: list[int]) -> dict:
    settings = {
        "vae": ({"hidden_dim": 256, "latent_dim": 16, "importance_samples": 50},
                {"max_steps": 1500, "batch_size": 64, "val_every": 100}),
        "made": ({"hidden_sizes": [500]}, {"max_steps": 1000, "batch_size": 64, "val_every": 100}),
    }  # fmt: skip
    member_seeds = {"VAE seed 0": ("vae", 0), "VAE seed 1": ("vae", 1), "MADE seed 0": ("made", 0),
                    "MADE seed 1": ("made", 1)}  # fmt: skip
    rows = {}
    for normal in classes:
        split = one_class_split("mnist5k", normal)
        members = {name: train_on_normal(kind, split, *settings[kind], seed=seed)
                   for name, (kind, seed) in member_seeds.items()}  # fmt: skip
        detectors = {f"{name}: {score}": (members[name], score)
                     for name, (kind, _) in member_seeds.items() for score in MEMBER_SCORES[kind]}  # fmt: skip
        for name, chosen in ANOMALY_ENSEMBLES.items():
            for combination in ("mean", "rank"):
                ensemble = ensemble_of([members[member] for member, _ in chosen], combination=combination,
                                       member_scores=tuple(score for _, score in chosen))  # fmt: skip
                detectors[f"{name} ({combination})"] = (ensemble, "nll")
        row = {}
        for name, (model, score) in detectors.items():
            detector = Detector(model, score).fit(split.calibration)
            row[name] = detection_metrics(detector.score(split.test), split.test_is_anomaly)["auroc"]
        rows[f"class {normal}"] = row
        print("class", normal, {name: round(auroc, 3) for name, auroc in row.items()}, flush=True)
    mean = {name: float(np.mean([row[name] for row in rows.values()])) for name in next(iter(rows.values()))}
    return {"auroc": rows, "mean_auroc": mean, "members": settings, "member_seeds": member_seeds,
            "ensembles": ANOMALY_ENSEMBLES}  # fmt: skip


def molecule_ensembles(seconds: float) -> dict:
    members, training = [], {}
    config = {"embedding_dim": 32, "hidden_dim": 256, "num_layers": 2, "dropout": 0.0}
    trainer = {"batch_size": 64, "learning_rate": 3e-3, "lr_schedule": "cosine", "gradient_clip_norm": 5.0}
    for seed in (0, 1):
        model, training[f"CharRNN seed {seed}"] = train("charrnn", {"name": "moses", "context_length": 100}, config,
                                                        trainer, seconds, seed)  # fmt: skip
        members.append(model)
    train_set = load_smiles("moses").smiles
    test = load_smiles("moses", split="test").smiles
    results = {}
    for index, model in enumerate(members):
        started = time.perf_counter()
        generated = sample_strings(model, MOLECULES, seed=index)
        results[f"CharRNN seed {index}"] = {"seconds": time.perf_counter() - started,
                                            **moses_metrics(generated, train_set, test)}  # fmt: skip
    started = time.perf_counter()
    vote = vote_molecules(members, MOLECULES, CANDIDATES, known=set(train_set))
    results["vote"] = {"seconds": time.perf_counter() - started, **moses_metrics(vote.smiles, train_set, test),
                       "share_of_member_0": float(np.mean(np.asarray(vote.sources) == 0))}  # fmt: skip
    for name, row in results.items():
        print(name, {key: round(value, 3) for key, value in row.items()}, flush=True)
    return {"training": training, "metrics": results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=90.0, help="training budget per image and molecule member")
    parser.add_argument("--classes", type=int, nargs="+", default=list(range(10)))
    parser.add_argument("--phases", nargs="+", choices=PHASES, default=list(PHASES),
                        help="phases to run; the others' results already in --output are kept")  # fmt: skip
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results/ensembles.json"))
    args = parser.parse_args()
    results = json.loads(args.output.read_text()) if args.output.is_file() else {}
    run = {"command": "python " + " ".join(sys.argv), "versions": software_versions(),
           "cpu_threads": torch.get_num_threads()}  # fmt: skip
    args.output.parent.mkdir(parents=True, exist_ok=True)
    phases = {"images": lambda: image_ensembles(args.seconds), "comparable": lambda: comparable_ensembles(args.seconds),
              "anomalies": lambda: anomaly_ensembles(args.classes),
              "molecules": lambda: molecule_ensembles(args.seconds)}  # fmt: skip
    for name in args.phases:
        results[name] = {**phases[name](), "run": run}
        args.output.write_text(json.dumps(results, indent=2) + "\n")  # each phase kept as soon as it is done


if __name__ == "__main__":
    main()

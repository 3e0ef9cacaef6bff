"""Ensembles: the exact mixture likelihood, EM weights, Borda voting, anomaly ranks, save/load and the CLI."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from tiny_models import DiagonalGaussian, DiagonalGaussianConfig
from typer.testing import CliRunner

import genmodels
from genmodels.applications.anomaly.detector import Detector
from genmodels.applications.anomaly.metrics import detection_metrics
from genmodels.applications.anomaly.scores import available_scores
from genmodels.cli.main import app
from genmodels.data import load_data
from genmodels.ensembles import Ensemble, ensemble_of
from genmodels.ensembles.vote import borda_count
from genmodels.ensembles.voters.realism import realism_reference, realism_scores
from genmodels.ensembles.voters.strata import quotas, stratified_selection
from genmodels.models import GAN, GANConfig
from genmodels.models.input_complexity import compressed_length_nats
from genmodels.runs import load_run_spec


def gaussian(mean: float, scale: float, dimensions: int | tuple[int, ...] = 2) -> DiagonalGaussian:
    """N(mean, scale^2 I) exactly: the network's last layer outputs constants. A tuple is a data shape."""
    shape = dimensions if isinstance(dimensions, tuple) else (dimensions,)
    model = DiagonalGaussian(DiagonalGaussianConfig(data_shape=shape))
    with torch.no_grad():
        model.net[2].weight.zero_()
        model.net[2].bias.copy_(torch.tensor([mean] * math.prod(shape) + [math.log(scale)] * math.prod(shape)))
    return model.eval()


def test_mixture_log_prob_is_the_analytic_mixture():
    ensemble = ensemble_of([gaussian(0.0, 1.0), gaussian(3.0, 0.5)], weights=[0.25, 0.75])
    x = torch.randn(50, 2, generator=torch.Generator().manual_seed(0)) * 2
    first = torch.distributions.Normal(0.0, 1.0).log_prob(x).sum(1)
    second = torch.distributions.Normal(3.0, 0.5).log_prob(x).sum(1)
    expected = torch.logsumexp(torch.stack([first + math.log(0.25), second + math.log(0.75)]), dim=0)
    assert ensemble.log_prob_kind == "exact"
    assert torch.allclose(ensemble.log_prob(x), expected, atol=1e-5)


def test_em_recovers_the_mixture_weights():
    generator = torch.Generator().manual_seed(1)
    data = torch.cat([torch.randn(700, 2, generator=generator), torch.randn(300, 2, generator=generator) + 8])
    ensemble = ensemble_of([gaussian(0.0, 1.0), gaussian(8.0, 1.0)])
    weights = ensemble.fit_weights(data)
    assert weights == pytest.approx([0.7, 0.3], abs=0.01)


def test_mixture_sampling_follows_the_weights_and_reports_sources():
    ensemble = ensemble_of([gaussian(0.0, 0.1), gaussian(10.0, 0.1)], weights=[0.2, 0.8])
    samples = ensemble.sample(2000, generator=torch.Generator().manual_seed(2))
    from_second = samples[:, 0] > 5
    assert torch.equal(from_second, ensemble.last_sources == 1)
    assert from_second.float().mean().item() == pytest.approx(0.8, abs=0.03)


def test_a_single_voter_preferring_one_member_keeps_only_its_samples(monkeypatch):
    ensemble = ensemble_of([gaussian(0.0, 0.1), gaussian(10.0, 0.1)], strategy="vote", candidates=3)
    monkeypatch.setattr(ensemble, "voter_scores", lambda pool: -pool.flatten(1).mean(1)[None])  # likes small values
    samples = ensemble.sample(20, generator=torch.Generator().manual_seed(3))
    assert (samples < 5).all() and (ensemble.last_sources == 0).all()


def test_majority_vote_keeps_what_every_calibrated_voter_accepts(tmp_path):
    real = torch.randn(2000, 2, generator=torch.Generator().manual_seed(8))  # N(0, I), as the first member
    ensemble = ensemble_of([gaussian(0.0, 1.0), gaussian(4.0, 1.0)], strategy="vote", aggregation="majority")
    with pytest.raises(RuntimeError, match="calibrate_votes"):
        ensemble.sample(4)
    thresholds = ensemble.calibrate_votes(real)
    assert [(ensemble.voter_scores(real)[k] < thresholds[k]).float().mean().item() for k in (0, 1)] == pytest.approx(
        [0.1, 0.1], abs=0.002
    )
    samples = ensemble.sample(100, generator=torch.Generator().manual_seed(9), candidates=5)
    assert (ensemble.last_approvals == 2).all(), "both voters accept enough candidates, so only those are kept"
    votes = ensemble.voter_scores(samples)
    assert (votes >= torch.tensor(thresholds)[:, None]).all()
    ensemble.save_pretrained(tmp_path)
    assert Ensemble.from_pretrained(tmp_path).config.vote_thresholds == pytest.approx(thresholds)


def test_a_fitted_critic_votes_for_the_member_that_looks_like_the_data(tmp_path):
    generator = torch.Generator().manual_seed(10)
    real, held_out = torch.randn(2000, 2, generator=generator), torch.randn(500, 2, generator=generator)
    ensemble = ensemble_of([gaussian(0.0, 1.0), gaussian(4.0, 1.0)], strategy="vote", voters="critic", candidates=2)
    with pytest.raises(RuntimeError, match="fit_vote_critic"):
        ensemble.sample(4)
    report = ensemble.fit_vote_critic(real, held_out, steps=300, check_every=50)
    # half the pool is the data's own distribution, so the best possible accuracy is 0.75
    assert 0.7 < report["accuracy"] < 0.8
    samples = ensemble.sample(200, generator=torch.Generator().manual_seed(11))
    assert (ensemble.last_sources == 0).float().mean() > 0.97
    ensemble.save_pretrained(tmp_path)
    restored = Ensemble.from_pretrained(tmp_path)
    assert torch.equal(restored.voter_scores(samples), ensemble.voter_scores(samples))
    torch.manual_seed(123)  # whatever the global random state, the seed decides the fit
    again = ensemble_of([gaussian(0.0, 1.0), gaussian(4.0, 1.0)], voters="critic")
    assert again.fit_vote_critic(real, held_out, steps=300, check_every=50) == report
    with pytest.raises(ValueError, match="members only"):
        ensemble_of([gaussian(0.0, 1.0)]).fit_vote_critic(real, held_out)


def test_realism_scores_follow_the_published_formula():
    real = torch.tensor([[0.0], [1.0], [3.0], [10.0]])
    rows, radii = realism_reference(real, neighbours=1)
    assert torch.equal(rows, real) and torch.equal(radii, torch.tensor([1.0, 1.0, 2.0, 7.0]))  # 1-NN distances
    scores = realism_scores(torch.tensor([[0.25], [2.5], [-4.0], [12.0]]), rows, radii)
    # max_j r_j / ||x - y_j||: x = 2.5 is deepest in the ball of 3 (2 / 0.5), x = -4 nearest the wide ball of 10
    assert torch.allclose(scores, torch.tensor([1 / 0.25, 2 / 0.5, 7 / 14.0, 7 / 2.0]))
    with pytest.raises(ValueError, match="more than 5 real rows"):
        realism_reference(real)


def test_the_realism_voter_keeps_the_member_on_the_data(tmp_path):
    real = torch.randn(1000, 2, generator=torch.Generator().manual_seed(12))
    ensemble = ensemble_of([gaussian(4.0, 1.0), gaussian(0.0, 1.0)], strategy="vote", voters="realism")
    with pytest.raises(RuntimeError, match="fit_vote_realism"):
        ensemble.sample(4)
    assert ensemble.fit_vote_realism(real, max_rows=600)["reference_rows"] == 600
    samples = ensemble.sample(200, generator=torch.Generator().manual_seed(13))
    assert (ensemble.last_sources == 1).float().mean() > 0.95
    ensemble.save_pretrained(tmp_path)
    restored = Ensemble.from_pretrained(tmp_path)
    assert restored.config.num_voters == 1
    assert torch.equal(restored.voter_scores(samples), ensemble.voter_scores(samples))
    with pytest.raises(ValueError, match="does not vote by realism"):
        ensemble_of([gaussian(0.0, 1.0)]).fit_vote_realism(real)


def test_stratified_selection_fills_each_quota_with_its_best_then_the_best_of_the_rest():
    order = torch.tensor([5, 0, 3, 1, 4, 2, 6])  # candidate 5 ranks best
    strata = torch.tensor([0, 0, 1, 1, 1, 0, 0])  # candidates 2, 3, 4 lie in cell 1
    assert torch.equal(quotas(torch.tensor([0.5, 0.5]), 3), torch.tensor([2, 1]))
    assert torch.equal(stratified_selection(order, strata, torch.tensor([0.5, 0.5]), 4), torch.tensor([5, 0, 3, 4]))
    # cell 1 wants 4 of 5 but has 3 candidates: the best remaining of cell 0 (candidate 0) fills the gap
    assert torch.equal(stratified_selection(order, strata, torch.tensor([0.2, 0.8]), 5), torch.tensor([5, 0, 3, 4, 2]))


def test_strata_keep_the_real_datas_shares_whatever_the_voters_prefer(tmp_path, monkeypatch):
    generator = torch.Generator().manual_seed(14)
    real = torch.cat([torch.randn(300, 2, generator=generator) - 5, torch.randn(700, 2, generator=generator) + 5])
    members = [gaussian(-5.0, 1.0), gaussian(5.0, 1.0)]
    ensemble = ensemble_of(members, strategy="vote", candidates=2, vote_strata=2)
    with pytest.raises(RuntimeError, match="fit_vote_strata"):
        ensemble.sample(4)
    assert sorted(ensemble.fit_vote_strata(real)) == pytest.approx([0.3, 0.7])
    monkeypatch.setattr(ensemble, "voter_scores", lambda pool: -pool.flatten(1).mean(1)[None])  # alone: all near -5
    samples = ensemble.sample(100, generator=torch.Generator().manual_seed(15))
    assert int((samples[:, 0] > 0).sum()) == 70 and int((ensemble.last_sources == 1).sum()) == 70
    ensemble.save_pretrained(tmp_path)
    assert torch.equal(Ensemble.from_pretrained(tmp_path).strata_shares, ensemble.strata_shares)
    with pytest.raises(ValueError, match="without strata"):
        ensemble_of(members).fit_vote_strata(real)


def test_borda_count_ignores_monotone_rescaling_of_a_voter():
    scores = torch.randn(3, 40, generator=torch.Generator().manual_seed(4))
    rescaled = torch.stack([scores[0].exp(), 3 * scores[1] + 2, scores[2] ** 3])
    assert torch.allclose(borda_count(scores), borda_count(rescaled))


def test_saved_ensembles_round_trip_and_score_anomalies(tmp_path):
    ensemble = ensemble_of([gaussian(0.0, 1.0), gaussian(3.0, 0.5)], weights=[0.4, 0.6], combination="rank")
    ensemble.save_pretrained(tmp_path)
    restored = Ensemble.from_pretrained(tmp_path)
    x = torch.randn(10, 2, generator=torch.Generator().manual_seed(5))
    assert torch.equal(restored.log_prob(x), ensemble.log_prob(x))
    assert restored.weights.tolist() == pytest.approx([0.4, 0.6])
    with pytest.raises(RuntimeError, match="calibrate_scores"):
        restored.score(x)
    restored.calibrate_scores(torch.randn(500, 2, generator=torch.Generator().manual_seed(6)))
    outlier = torch.full((1, 2), 20.0)
    scores = restored.score(torch.cat([x, outlier]))
    assert scores.argmax() == 10 and 0 <= scores.min() and scores.max() <= 1
    assert torch.allclose(restored.score(x[:1]), scores[:1]), "a row's score does not depend on its batch"
    with pytest.raises(ValueError, match="same data shape"):
        ensemble_of([gaussian(0.0, 1.0), gaussian(0.0, 1.0, dimensions=3)])


def test_rejection_sampling_keeps_what_the_discriminator_prefers(monkeypatch):
    torch.manual_seed(1)  # an untrained generator whose proposals fall on both sides
    gan = GAN(GANConfig(data_shape=(2,), latent_dim=4, generator_hidden_dim=16, discriminator_hidden_dim=16)).eval()
    ensemble = ensemble_of([gan], strategy="rejection", rejection_burn_in=500)
    member = ensemble.members[0]
    monkeypatch.setattr(member, "discriminate", lambda x, labels=None: torch.where(x[:, 0] > 0, 5.0, -5.0))
    proposals = member.sample(2000, generator=torch.Generator().manual_seed(0))
    preferred = (proposals[:, 0] > 0.5).float().mean().item()
    assert 0.1 < preferred < 0.9, "the untrained generator should propose both kinds"
    samples = ensemble.sample(200, generator=torch.Generator().manual_seed(1))
    assert samples.shape == (200, 2) and (samples[:, 0] > 0.5).all()
    # every preferred proposal has the burn-in's 80th-percentile F, so it is accepted with probability 1/2
    assert ensemble.last_acceptance[0] == pytest.approx(preferred / 2, abs=0.05)
    hinge = GAN(GANConfig(data_shape=(2,), latent_dim=4, loss="hinge"))
    with pytest.raises(ValueError, match="nonsaturating"):
        ensemble_of([hinge], strategy="rejection").sample(4)


def test_detector_calibrates_and_saves_the_ensemble_scale(tmp_path):
    ensemble = ensemble_of([gaussian(0.0, 1.0), gaussian(0.0, 3.0)], combination="rank")
    generator = torch.Generator().manual_seed(7)
    normal, test = torch.randn(1000, 2, generator=generator), torch.randn(200, 2, generator=generator)
    outliers = torch.randn(20, 2, generator=generator) + 6
    detector = Detector(ensemble, false_positive_rate=0.05).fit(normal)
    scores = detector.score(torch.cat([test, outliers]))
    labels = torch.cat([torch.zeros(200), torch.ones(20)]).numpy()
    assert detection_metrics(scores, labels)["auroc"] > 0.99
    assert detector.predict(test).mean() == pytest.approx(0.05, abs=0.04)
    detector.save(tmp_path)
    fresh = ensemble_of([gaussian(0.0, 1.0), gaussian(0.0, 3.0)], combination="rank")
    assert (Detector.load(fresh, tmp_path).score(test) == detector.score(test)).all()
    averaged = ensemble_of([gaussian(0.0, 1.0), gaussian(0.0, 3.0)], combination="mean")
    with pytest.raises(ValueError, match="made for combination 'rank', the ensemble has 'mean'"):
        Detector.load(averaged, tmp_path)  # its threshold is on another scale


def test_members_score_with_their_own_named_scores(tmp_path):
    images = (1, 4, 4)
    ensemble = ensemble_of([gaussian(0.5, 0.2, images), gaussian(0.4, 0.3, images)],
                           member_scores=("input_complexity", "nll"))  # fmt: skip
    generator = torch.Generator().manual_seed(8)
    normal, test = (torch.rand(n, *images, generator=generator) for n in (300, 50))
    corrected = -ensemble.members[0].log_prob(test) - compressed_length_nats(test)
    assert torch.allclose(ensemble.member_scores(test)[0], corrected.double())
    assert torch.allclose(ensemble.member_scores(test)[1], -ensemble.members[1].log_prob(test).double())
    detector = Detector(ensemble).fit(normal)
    reference = ensemble.member_scores(normal)
    spread = reference.std(1, correction=0, keepdim=True)
    standardised = (ensemble.member_scores(test) - reference.mean(1, keepdim=True)) / spread
    assert detector.score(test) == pytest.approx(standardised.mean(0).numpy(), rel=1e-6)
    assert available_scores(ensemble) == ["nll"]  # the members' corrections live inside it
    ensemble.save_pretrained(tmp_path / "ens")
    assert genmodels.load(tmp_path / "ens").config.member_scores == ("input_complexity", "nll")
    with pytest.raises(ValueError, match="one score per member"):
        ensemble_of([gaussian(0.0, 1.0), gaussian(0.0, 3.0)], member_scores=("nll",))
    with pytest.raises(ValueError, match="'reconstruction' does not apply to a test-gaussian member"):
        ensemble_of([gaussian(0.0, 1.0)], member_scores=("reconstruction",))


def test_ensemble_commands(tmp_path):
    runner = CliRunner()
    runs = []
    for seed in (0, 1):
        run = tmp_path / f"gan-{seed}"
        result = runner.invoke(app, ["train", "gan", "--data", "grid25", "-o", str(run), "--max-steps", "20",
                                     "--seed", str(seed), "--no-progress"])  # fmt: skip
        assert result.exit_code == 0, result.output
        runs.append(str(run))
    create = ["ensemble", "create", *runs, "-o", str(tmp_path / "ens"), "--strategy", "vote"]
    result = runner.invoke(app, [*create, "--aggregation", "majority"])
    assert result.exit_code != 0 and "--calibrate" in result.output
    result = runner.invoke(app, [*create, "--aggregation", "majority", "--calibrate"])
    assert result.exit_code == 0, result.output
    ensemble = genmodels.load(tmp_path / "ens")
    assert isinstance(ensemble, Ensemble) and ensemble.config.strategy == "vote"
    assert ensemble.config.aggregation == "majority" and len(ensemble.config.vote_thresholds) == 2
    critic = ["ensemble", "create", *runs, "-o", str(tmp_path / "critic"), "--voters", "all", "--calibrate"]
    result = runner.invoke(app, critic)
    assert result.exit_code == 0 and "critic: held-out accuracy" in result.output, result.output
    realism = ["ensemble", "create", *runs, "-o", str(tmp_path / "realism"), "--voters", "realism"]
    result = runner.invoke(app, [*realism, "--vote-strata", "5"])
    assert result.exit_code != 0 and "--calibrate" in result.output
    result = runner.invoke(app, [*realism, "--vote-strata", "5", "--calibrate"])
    assert result.exit_code == 0 and "strata: 5 cells" in result.output, result.output
    by_realism = genmodels.load(tmp_path / "realism")
    assert by_realism.config.realism_rows > 0 and float(by_realism.strata_shares.sum()) == pytest.approx(1.0)
    scored = ["ensemble", "create", *runs, "-o", str(tmp_path / "scored"), "--member-score", "critic"]
    result = runner.invoke(app, [*scored, "--member-score", "nll"])
    assert result.exit_code != 0 and "'nll' does not apply to a gan member" in str(result.exception)
    result = runner.invoke(app, [*scored, "--member-score", "critic"])
    assert result.exit_code == 0 and genmodels.load(tmp_path / "scored").config.member_scores == ("critic", "critic")
    result = runner.invoke(app, ["detect", "calibrate", str(tmp_path / "scored"), "--fpr", "0.1"])
    assert result.exit_code == 0, result.output
    detector = Detector.load(genmodels.load(tmp_path / "scored"), tmp_path / "scored")
    validation = load_data(load_run_spec(tmp_path / "scored").data).validation.tensors()["x"]
    assert detector.predict(validation).mean() == pytest.approx(0.1, abs=0.02)  # calibrated on its own data
    np.save(tmp_path / "rows.npy", validation[:5].numpy())
    result = runner.invoke(app, ["detect", "score", str(tmp_path / "scored"), str(tmp_path / "rows.npy"),
                                 "-o", str(tmp_path / "scores.csv")])  # fmt: skip
    assert result.exit_code == 0 and len((tmp_path / "scores.csv").read_text().splitlines()) == 6, result.output
    with_critic = genmodels.load(tmp_path / "critic")
    assert bool(with_critic.critic_fitted) and len(with_critic.config.vote_thresholds) == 3
    result = runner.invoke(app, ["sample", str(tmp_path / "ens"), "-n", "8", "--format", "npy",
                                 "-o", str(tmp_path / "s.npy"), "--candidates", "2"])  # fmt: skip
    assert result.exit_code == 0, result.output

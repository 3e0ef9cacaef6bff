"""Flow matching and diffusion: samplers, EMA, guidance, the likelihood ODE on analytic densities, resume, saving."""

from __future__ import annotations

import math

import pytest
import torch
from typer.testing import CliRunner

import genmodels
from genmodels.cli.main import app
from genmodels.errors import ConfigError
from genmodels.models import build_model
from genmodels.models.diffusion.paths import CosinePath, KarrasPath, LinearPath
from genmodels.models.diffusion.solvers import ode_log_prob, sample_adaptive, sample_fixed_steps, velocity_of
from genmodels.training import Trainer, TrainerConfig

TINY_IMAGE = {"data_shape": (1, 4, 4), "widths": (8, 8), "attention": True}
VARIANTS = [
    ("flow-matching", {}),
    ("flow-matching", {"coupling": "ot"}),
    ("diffusion", {"formulation": "edm"}),
    ("diffusion", {"formulation": "ddpm"}),
]


def tiny(name: str, **settings) -> genmodels.GenerativeModel:
    torch.manual_seed(0)
    return build_model(name, **{**TINY_IMAGE, **settings})


def trained_a_little(model, steps: int = 3) -> None:
    """A few Adam steps with EMA updates, so the EMA and raw weights differ."""
    optimizer = torch.optim.Adam(model.training_phases()[0].parameters, lr=1e-3)
    images = torch.rand(8, *model.config.data_shape, generator=torch.Generator().manual_seed(1))
    batch = {"x": images, "y": torch.arange(8) % 3}
    model.train()
    for _ in range(steps):
        optimizer.zero_grad()
        model.loss(batch)["loss"].backward()
        optimizer.step()
        model.after_optimizer_step("model")
    model.eval()


@pytest.mark.parametrize(
    ("name", "settings", "sampler"),
    [(*variant, sampler) for variant, sampler in zip(VARIANTS, ["euler", "heun", "heun", "ddim"], strict=True)],
)
def test_samples_have_the_data_shape_and_range_and_repeat_with_the_seed(name, settings, sampler):
    model = tiny(name, **settings)
    first = model.sample(3, generator=torch.Generator().manual_seed(5), sampler=sampler, steps=3)
    again = model.sample(3, generator=torch.Generator().manual_seed(5), sampler=sampler, steps=3)
    assert first.shape == (3, 1, 4, 4) and first.min() >= 0 and first.max() <= 1
    assert torch.equal(first, again)
    assert model.last_evaluations == (5 if sampler == "heun" else 3)
    assert not torch.equal(first, model.sample(3, generator=torch.Generator().manual_seed(6), sampler=sampler, steps=3))


def test_training_lowers_the_loss_of_a_small_flow_on_points():
    torch.manual_seed(0)
    model = build_model("flow-matching", data_shape=(2,), hidden_dim=64, depth=2)
    centres = torch.tensor([[-2.0, 0.0], [2.0, 0.0]])
    data = centres[torch.randint(2, (512,))] + 0.1 * torch.randn(512, 2)
    optimizer = torch.optim.Adam(model.training_phases()[0].parameters, lr=3e-3)

    def held_out_loss() -> float:  # the same times and noise every time
        torch.manual_seed(7)
        with torch.no_grad():
            return float(model.loss({"x": data})["loss"])

    model.train()
    model.loss({"x": data})  # fits the standardisation on the data
    before = held_out_loss()
    for step in range(150):
        loss = model.loss({"x": data[(step * 64) % 512 :][:64]})["loss"]
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert held_out_loss() < 0.85 * before  # flow matching keeps a large irreducible part


def test_ema_weights_differ_from_the_raw_ones_and_are_what_sampling_uses():
    model = tiny("flow-matching")
    trained_a_little(model)
    raw, average = model.network.state_dict(), model.network_ema.state_dict()
    assert any(not torch.equal(raw[name], average[name]) for name in raw)
    seeded = {"generator": torch.Generator().manual_seed(2), "steps": 2}
    default = model.sample(2, **seeded)
    assert torch.equal(default, model.sample(2, generator=torch.Generator().manual_seed(2), steps=2, use_ema=True))
    assert not torch.equal(default, model.sample(2, generator=torch.Generator().manual_seed(2), steps=2, use_ema=False))
    model.network.load_state_dict(average)
    torch.testing.assert_close(
        default, model.sample(2, generator=torch.Generator().manual_seed(2), steps=2, use_ema=False)
    )


def test_ema_warms_up_and_tracks_the_network():
    model = tiny("flow-matching", ema_decay=0.5)
    with torch.no_grad():
        for parameter in model.network.parameters():
            parameter.add_(1.0)
    before = [parameter.clone() for parameter in model.network_ema.parameters()]
    model.after_optimizer_step("model")  # first update: decay min(0.5, 2 / 11)
    for old, new, target in zip(before, model.network_ema.parameters(), model.network.parameters(), strict=True):
        torch.testing.assert_close(new, old + (target - old) * (1 - 2 / 11))


@pytest.mark.parametrize(("name", "settings"), [VARIANTS[0], VARIANTS[2]])
def test_guidance_weight_zero_is_the_unconditional_model(name, settings):
    model = tiny(name, num_classes=3, **settings).eval()
    torch.nn.init.normal_(model.network_ema.head[-1].weight, std=0.1)  # an output that depends on the label

    def draw(**controls):
        return model.sample(2, generator=torch.Generator().manual_seed(3), steps=2, **controls)

    unconditional = draw(labels=0, guidance=0.0)
    assert torch.equal(unconditional, draw(labels=2, guidance=0.0))
    predict = model.predictor(torch.full((2,), 3), use_ema=True)  # label 3 is "no label"
    noise = torch.randn(2, 1, 4, 4, generator=torch.Generator().manual_seed(3))
    _, b = model.path.coefficients(torch.tensor(model.path.noise_end))
    by_hand = model.from_model_space(
        sample_fixed_steps(model.path, predict, noise * float(b), 2, "heun" if name == "diffusion" else "euler")
    )
    torch.testing.assert_close(unconditional, by_hand)
    x, t = torch.randn(2, 1, 4, 4), torch.full((2,), 0.5)
    first, other = (model.predictor(torch.full((2,), label), 1.0)(x, t)[0] for label in (0, 2))
    assert (first - other).abs().max() > 1e-4  # with weight 1 the label matters
    guided = model.predictor(torch.full((2,), 0), 2.0)(x, t)[0]
    unguided = model.predictor(torch.full((2,), 3), 1.0)(x, t)[0]
    torch.testing.assert_close(guided, unguided + 2.0 * (first - unguided))  # estimates are affine in the output


def test_conditional_controls_are_checked():
    model = tiny("flow-matching")
    with pytest.raises(ConfigError, match="guidance needs a class-conditional model"):
        model.sample(1, guidance=2.0)
    with pytest.raises(ConfigError, match="not conditional"):
        model.sample(1, labels=1)
    with pytest.raises(ConfigError, match="sampler must be one of"):
        model.sample(1, sampler="rk4")
    conditional = tiny("flow-matching", num_classes=3)
    with pytest.raises(ConfigError, match=r"integers in 0..2"):
        conditional.sample(2, labels=5)


def gaussian_predictor(path, mean: float, std: float):
    """Exact (data, noise) estimates for data ~ N(mean, std^2 I) on an affine path: everything Gaussian."""

    def predict(x: torch.Tensor, t: torch.Tensor):
        a, b = (value.view(-1, *[1] * (x.dim() - 1)) for value in path.coefficients(t))
        variance = a.square() * std**2 + b.square()
        residual = x - a * mean
        return mean + a * std**2 / variance * residual, b / variance * residual

    return predict


@pytest.mark.parametrize("path", [LinearPath(), KarrasPath(), CosinePath()], ids=["linear", "edm", "cosine"])
def test_many_fixed_steps_agree_with_the_adaptive_solver(path):
    predict = gaussian_predictor(path, mean=0.5, std=0.3)
    _, b = path.coefficients(torch.tensor(path.noise_end))
    noise = torch.randn(64, 2, generator=torch.Generator().manual_seed(0)) * float(b)
    adaptive, evaluations = sample_adaptive(path, predict, noise, tolerance=1e-5)
    for sampler, steps in (("euler", 400), ("heun", 60)):
        fixed = sample_fixed_steps(path, predict, noise, steps, sampler)
        torch.testing.assert_close(fixed, adaptive, atol=2e-2, rtol=0)
    assert evaluations > 10
    if isinstance(path, LinearPath):  # the exact flow between two Gaussians is the affine map
        torch.testing.assert_close(adaptive, 0.5 + 0.3 * noise, atol=1e-4, rtol=0)


MIXTURE_MEANS = torch.tensor([[-1.0, 0.0], [1.0, 0.5], [0.0, -1.0]])
MIXTURE_STDS = torch.tensor([0.3, 0.4, 0.35])
MIXTURE_WEIGHTS = torch.tensor([0.5, 0.3, 0.2])


def mixture_log_density(x: torch.Tensor) -> torch.Tensor:
    """The analytic log-density of the 2-D Gaussian mixture, ``(rows,)``."""
    squared = (x[:, None, :] - MIXTURE_MEANS.to(x.dtype)).square().sum(-1)  # (rows, components)
    variance = MIXTURE_STDS.to(x.dtype).square()
    components = -0.5 * squared / variance - variance.log() - math.log(2 * math.pi)
    return torch.logsumexp(components + MIXTURE_WEIGHTS.to(x.dtype).log(), dim=1)


def mixture_predictor(x: torch.Tensor, t: torch.Tensor):
    """Exact data and noise estimates of the mixture on the linear path: posterior-weighted Gaussian ones."""
    means, stds, weights = (value.to(x.dtype) for value in (MIXTURE_MEANS, MIXTURE_STDS, MIXTURE_WEIGHTS))
    t = t.view(-1, 1, 1)
    variance = (1 - t).square() * stds.view(1, -1, 1).square() + t.square()  # (rows, components, 1)
    residual = x[:, None, :] - (1 - t) * means  # (rows, components, 2)
    log_weights = -0.5 * residual.square().sum(-1) / variance[..., 0] - variance[..., 0].log() + weights.log()
    posterior = log_weights.softmax(1)[..., None]
    data = means + (1 - t) * stds.view(1, -1, 1).square() / variance * residual
    noise = t / variance * residual
    return (posterior * data).sum(1), (posterior * noise).sum(1)


def test_the_likelihood_ode_recovers_a_known_mixture_density_within_0_05_nats():
    path = LinearPath()
    points = torch.randn(32, 2, generator=torch.Generator().manual_seed(0)).double()
    computed = ode_log_prob(path, velocity_of(path, mixture_predictor), points, 1.0, True, tolerance=1e-7)
    expected = mixture_log_density(points)
    assert (computed - expected).abs().max() < 0.05


def test_hutchinson_probes_average_to_the_exact_divergence():
    """In 2-D a Rademacher probe is one of two patterns up to sign; their two estimates average to the trace."""
    path = LinearPath()
    points = torch.randn(3, 2, generator=torch.Generator().manual_seed(1)).double().repeat(16, 1)
    velocity = velocity_of(path, mixture_predictor)
    estimated = ode_log_prob(path, velocity, points, 1.0, False, 1e-7, torch.Generator().manual_seed(0)).view(16, 3)
    expected = mixture_log_density(points[:3])
    for column in range(3):
        patterns = torch.unique(estimated[:, column].round(decimals=6))
        assert len(patterns) == 2
        assert abs(float(patterns.mean()) - float(expected[column])) < 0.05


def test_log_prob_of_a_model_on_points_is_exact_and_repeatable_and_scores_are_offered():
    model = build_model("flow-matching", data_shape=(2,), hidden_dim=16, depth=1).eval()
    points = torch.randn(5, 2, generator=torch.Generator().manual_seed(0))
    assert model.log_prob_kind == "exact"
    log_prob = model.log_prob(points)
    assert log_prob.shape == (5,) and torch.isfinite(log_prob).all()
    torch.testing.assert_close(model.score(points), -log_prob)
    scores = model.anomaly_scores()
    assert set(scores) == {"nll", "denoising"}
    denoising = scores["denoising"](points)
    assert denoising.shape == (5,) and torch.equal(denoising, scores["denoising"](points))


@pytest.mark.slow
def test_image_log_prob_uses_hutchinson_on_dequantized_pixels():
    model = tiny("diffusion", data_shape=(1, 8, 8), ode_tolerance=1e-3).eval()
    images = torch.randint(0, 256, (2, 1, 8, 8), generator=torch.Generator().manual_seed(0)) / 255
    assert model.log_prob_kind == "hutchinson"
    log_prob = model.log_prob(images)
    assert log_prob.shape == (2,) and torch.isfinite(log_prob).all()
    assert torch.equal(log_prob, model.log_prob(images))  # seeded dequantization and probes
    assert {"nll", "input_complexity", "denoising"} == set(model.anomaly_scores())


def test_configs_refuse_what_the_network_cannot_take():
    with pytest.raises(ConfigError, match="divisible by 2"):
        build_model("flow-matching", data_shape=(1, 5, 5), widths=(8, 8))
    with pytest.raises(ConfigError, match="multiple of 8"):
        build_model("flow-matching", data_shape=(1, 4, 4), widths=(12,))
    with pytest.raises(ConfigError, match="coupling must be one of"):
        build_model("flow-matching", data_shape=(2,), coupling="sinkhorn")
    with pytest.raises(ConfigError, match="formulation must be one of"):
        build_model("diffusion", data_shape=(2,), formulation="vp")


def test_ot_coupling_pairs_each_point_with_its_nearest_assignment():
    from genmodels.models.diffusion.coupling import ot_pair_noise

    data = torch.tensor([[0.0, 0.0], [10.0, 10.0], [-10.0, 5.0]])
    noise = torch.tensor([[9.0, 9.0], [-9.0, 4.0], [0.5, 0.0]])
    torch.testing.assert_close(ot_pair_noise(data, noise), noise[[2, 0, 1]])


def quiet(**values) -> TrainerConfig:
    defaults = {"accelerator": "cpu", "progress_bar": False, "tensorboard": False, "batch_size": 8, "monitor": None}
    return TrainerConfig(**{**defaults, **values})


class KilledAfter(Trainer):
    def _save_checkpoint(self, step, *args):
        super()._save_checkpoint(step, *args)
        if step == 2:
            raise KeyboardInterrupt("killed")


def test_resume_ends_with_the_uninterrupted_weights_ema_included(tmp_path):
    config = quiet(max_steps=4, checkpoint_every=2, log_every=2)
    images = torch.rand(32, 1, 4, 4, generator=torch.Generator().manual_seed(0))
    data = {"x": images, "y": torch.arange(32) % 3}

    def model():
        return tiny("flow-matching", num_classes=3, coupling="ot")

    uninterrupted = model()
    Trainer(config, tmp_path / "a").fit(uninterrupted, data)
    with pytest.raises(KeyboardInterrupt):
        KilledAfter(config, tmp_path / "b").fit(model(), data)
    resumed = model()
    Trainer(config, tmp_path / "b").fit(resumed, data, resume=True)
    state = uninterrupted.state_dict()
    assert int(state["ema_updates"]) == 4
    for name, tensor in state.items():
        assert torch.equal(tensor, resumed.state_dict()[name]), name


def test_save_and_load_round_trip(tmp_path):
    model = tiny("diffusion", formulation="ddpm", num_classes=3)
    trained_a_little(model)
    model.save_pretrained(tmp_path / "saved")
    loaded = genmodels.load(tmp_path / "saved")
    assert type(loaded).__name__ == "Diffusion" and loaded.config == model.config
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, loaded.state_dict()[name]), name
    seeded = {"labels": 1, "guidance": 2.0, "steps": 2, "sampler": "ddim"}
    torch.testing.assert_close(
        model.sample(2, generator=torch.Generator().manual_seed(0), **seeded),
        loaded.sample(2, generator=torch.Generator().manual_seed(0), **seeded),
    )


@pytest.mark.slow
def test_cli_trains_and_samples_with_every_sampling_option(tmp_path):
    runner = CliRunner()
    run = tmp_path / "run"
    trained = runner.invoke(
        app,
        ["train", "flow-matching", "--data", "digits", "-o", str(run), "--max-steps", "2", "--batch-size", "16",
         "--set", "model.widths=[8, 8]", "--set", "model.num_classes=10", "--set", "model.steps=2",
         "--final-eval", "none"],
    )  # fmt: skip
    assert trained.exit_code == 0, trained.output
    output = tmp_path / "threes.npy"
    sampled = runner.invoke(
        app,
        ["sample", str(run), "-n", "3", "-o", str(output), "--steps", "2", "--sampler", "heun", "--guidance", "2",
         "--label", "3"],
    )  # fmt: skip
    assert sampled.exit_code == 0, sampled.output
    import numpy as np

    assert np.load(output).shape == (3, 1, 8, 8)
    refused = runner.invoke(app, ["sample", str(run), "-n", "2", "-o", str(tmp_path / "x.npy"), "--truncation", "0.5"])
    assert isinstance(refused.exception, ConfigError) and "does not take truncation" in str(refused.exception)
    bad = runner.invoke(app, ["sample", str(run), "-n", "2", "-o", str(tmp_path / "y.npy"), "--sampler", "rk4"])
    assert isinstance(bad.exception, ConfigError) and "sampler must be one of" in str(bad.exception)


def test_training_writes_a_live_sample_grid_beside_the_curves(tmp_path):
    from genmodels.data import DataSpec, load_data
    from genmodels.runs.progress_view import progress_view

    data = load_data(DataSpec("digits"))
    model = build_model("flow-matching", data_shape=data.data_shape, widths=(8,), steps=1)
    config = quiet(max_steps=4, val_every=2, log_every=1, sample_grid_every=1)
    columns = {name: column[:64] for name, column in data.train.tensors().items()}
    Trainer(config, tmp_path, progress_view(tmp_path, data)).fit(model, columns, columns)
    written = sorted(path.name for path in (tmp_path / "progress").iterdir())
    assert written == ["samples_step0000002.png", "samples_step0000004.png", "training_curves.png"]


def test_lora_adapted_models_sample_with_the_adapted_network_and_leave_the_average():
    from genmodels.nn.lora import LoRASettings, apply_lora

    model = tiny("flow-matching")
    average = {name: tensor.clone() for name, tensor in model.network_ema.state_dict().items()}
    apply_lora(model, LoRASettings(rank=2, alpha=2.0))
    assert not model.uses_ema
    trained_a_little(model, steps=2)
    assert all(torch.equal(tensor, model.network_ema.state_dict()[name]) for name, tensor in average.items())
    samples = model.sample(2, generator=torch.Generator().manual_seed(0), steps=2)
    assert samples.shape == (2, 1, 4, 4)
    with pytest.raises(ConfigError, match="samples without EMA"):
        model.sample(2, use_ema=True)

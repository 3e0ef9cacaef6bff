"""The Fabric trainer: learning, exact resume, divergence handling, checkpoints, logs, early stopping."""

import csv

import pytest
import torch
from tiny_models import DiagonalGaussian, DiagonalGaussianConfig

from genmodels.errors import CheckpointError, TrainingDivergedError
from genmodels.models import GAN, VAE, GANConfig, VAEConfig
from genmodels.training import Trainer, TrainerConfig
from genmodels.training.checkpoint import load_checkpoint

SHAPE = (1, 8, 8)


def quiet(**values) -> TrainerConfig:
    defaults = {"accelerator": "cpu", "progress_bar": False, "tensorboard": False, "batch_size": 16}
    return TrainerConfig(**{**defaults, **values})


def vae() -> VAE:
    torch.manual_seed(0)
    return VAE(VAEConfig(data_shape=SHAPE, hidden_dim=32))


def test_vae_loss_decreases(binary_images, tmp_path):
    model = vae()
    trainer = Trainer(quiet(max_steps=150, val_every=50, log_every=10), tmp_path)
    trainer.fit(model, {"x": binary_images}, {"x": binary_images[:16]})
    rows = list(csv.DictReader((tmp_path / "history.csv").open()))
    train_losses = [float(row["loss"]) for row in rows if row["split"] == "train"]
    assert train_losses[-1] < 0.75 * train_losses[0]
    assert {row["split"] for row in rows} == {"train", "validation"}


def test_gan_trains_both_players(binary_images, tmp_path):
    torch.manual_seed(0)
    gan = GAN(GANConfig(data_shape=SHAPE, discriminator_steps=2))
    before = {name: tensor.clone() for name, tensor in gan.state_dict().items()}
    trainer = Trainer(quiet(max_steps=5, monitor=None, betas=(0.5, 0.999)), tmp_path)
    result = trainer.fit(gan, {"x": binary_images})
    assert result.steps == 5
    changed = {name for name, tensor in gan.state_dict().items() if not torch.equal(tensor, before[name])}
    assert any(name.startswith("generator") for name in changed)
    assert any(name.startswith("discriminator") for name in changed)


class KilledAfter(Trainer):
    """Simulates a process killed right after its checkpoint at ``kill_step``."""

    kill_step = 20

    def _save_checkpoint(self, step, *args):
        super()._save_checkpoint(step, *args)
        if step == self.kill_step:
            raise KeyboardInterrupt("killed")


def gaussian() -> DiagonalGaussian:
    torch.manual_seed(0)
    return DiagonalGaussian(DiagonalGaussianConfig(data_shape=SHAPE))


@pytest.mark.parametrize("make_model", [vae, gaussian])
def test_resume_ends_with_exactly_the_uninterrupted_weights(make_model, binary_images, tmp_path):
    config = quiet(max_steps=40, checkpoint_every=10, val_every=15, log_every=5, lr_schedule="cosine", warmup_steps=5)
    data, validation = {"x": binary_images}, {"x": binary_images[:16]}

    uninterrupted = make_model()
    Trainer(config, tmp_path / "a").fit(uninterrupted, data, validation)

    with pytest.raises(KeyboardInterrupt):
        KilledAfter(config, tmp_path / "b").fit(make_model(), data, validation)
    assert load_checkpoint(tmp_path / "b" / "checkpoints" / "last.safetensors").step == 20
    resumed = make_model()
    Trainer(config, tmp_path / "b").fit(resumed, data, validation, resume=True)

    for name, tensor in uninterrupted.state_dict().items():
        assert torch.equal(tensor, resumed.state_dict()[name]), name

    def logged_values(run: str) -> list[dict[str, str]]:  # everything but the wall clock
        rows = csv.DictReader((tmp_path / run / "history.csv").open())
        return [
            {name: value for name, value in row.items() if name not in ("seconds", "data_wait_share")} for row in rows
        ]

    assert logged_values("b") == logged_values("a")


def test_nan_loss_stops_with_clear_message_and_keeps_last_checkpoint(binary_images, tmp_path):
    model = DiagonalGaussian(DiagonalGaussianConfig(data_shape=SHAPE, nan_after_calls=25))
    trainer = Trainer(quiet(max_steps=100, checkpoint_every=10), tmp_path)
    with pytest.raises(TrainingDivergedError, match=r"non-finite loss at step 25.*weights were not updated.*intact"):
        trainer.fit(model, {"x": binary_images})
    checkpoint = load_checkpoint(tmp_path / "checkpoints" / "last.safetensors")
    assert checkpoint.step == 20
    assert all(torch.isfinite(tensor).all() for tensor in checkpoint.model.values())
    assert all(torch.isfinite(p).all() for p in model.parameters()), "the NaN step must not reach the weights"


def test_interrupted_checkpoint_write_leaves_the_previous_one(binary_images, tmp_path, monkeypatch):
    trainer = Trainer(quiet(max_steps=20, checkpoint_every=10), tmp_path)
    trainer.fit(vae(), {"x": binary_images})
    path = tmp_path / "checkpoints" / "last.safetensors"
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("genmodels.training.checkpoint.save_file", crash)
    with pytest.raises(OSError, match="disk full"):
        Trainer(quiet(max_steps=30, checkpoint_every=10), tmp_path).fit(vae(), {"x": binary_images}, resume=True)
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == ["last.safetensors"], "no temporary files left behind"


def test_resume_refuses_a_checkpoint_of_another_model(binary_images, tmp_path):
    Trainer(quiet(max_steps=10, checkpoint_every=10), tmp_path).fit(vae(), {"x": binary_images})
    other = VAE(VAEConfig(data_shape=SHAPE, hidden_dim=16))
    with pytest.raises(CheckpointError, match="different model"):
        Trainer(quiet(max_steps=20), tmp_path).fit(other, {"x": binary_images}, resume=True)


def test_corrupt_checkpoint_is_refused(binary_images, tmp_path):
    Trainer(quiet(max_steps=10, checkpoint_every=10), tmp_path).fit(vae(), {"x": binary_images})
    path = tmp_path / "checkpoints" / "last.safetensors"
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        Trainer(quiet(max_steps=20), tmp_path).fit(vae(), {"x": binary_images}, resume=True)


def test_early_stopping_restores_the_best_weights(binary_images, tmp_path):
    model = vae()
    # a learning rate this high makes validation worse after the first steps
    config = quiet(max_steps=400, val_every=5, early_stopping_patience=3, learning_rate=0.05)
    result = Trainer(config, tmp_path).fit(model, {"x": binary_images}, {"x": binary_images[:32]})
    assert result.stopped_early and result.steps < 400
    assert result.best_step is not None and result.best_step <= result.steps - 15
    rows = [row for row in csv.DictReader((tmp_path / "history.csv").open()) if row["split"] == "validation"]
    assert min(float(row["loss"]) for row in rows) == pytest.approx(result.best_value, rel=1e-5)


def test_batch_larger_than_data_is_a_clear_error(binary_images, tmp_path):
    with pytest.raises(ValueError, match="fewer than one global batch"):
        Trainer(quiet(batch_size=1000), tmp_path).fit(vae(), {"x": binary_images})


def test_gradient_clipping_and_schedules_run(binary_images, tmp_path):
    config = quiet(max_steps=10, gradient_clip_norm=0.5, lr_schedule="linear", warmup_steps=2, optimizer="adamw")
    result = Trainer(config, tmp_path).fit(vae(), {"x": binary_images})
    assert result.steps == 10
    rows = list(csv.DictReader((tmp_path / "history.csv").open()))
    assert float(rows[-1]["learning_rate"]) == pytest.approx(0.0, abs=1e-12)


def test_bf16_mixed_precision_trains_on_cpu(binary_images, tmp_path):
    model = vae()
    result = Trainer(quiet(max_steps=20, precision="bf16-mixed"), tmp_path).fit(model, {"x": binary_images})
    assert result.steps == 20
    assert all(p.dtype == torch.float32 and torch.isfinite(p).all() for p in model.parameters())


def test_resuming_a_finished_early_stopped_run_trains_no_further(binary_images, tmp_path):
    config = quiet(max_steps=400, val_every=5, early_stopping_patience=3, learning_rate=0.05)
    first = Trainer(config, tmp_path).fit(vae(), {"x": binary_images}, {"x": binary_images[:32]})
    again = Trainer(config, tmp_path).fit(vae(), {"x": binary_images}, {"x": binary_images[:32]}, resume=True)
    assert again.steps == first.steps and again.best_step == first.best_step


def test_time_budget_stops_with_a_validated_checkpointed_end(binary_images, tmp_path):
    trainer = Trainer(quiet(max_steps=10**6, max_seconds=0.5, val_every=10**5, checkpoint_every=10**5), tmp_path)
    result = trainer.fit(vae(), {"x": binary_images}, {"x": binary_images[:16]})
    assert 0 < result.steps < 10**6 and result.seconds < 5
    assert load_checkpoint(tmp_path / "checkpoints" / "last.safetensors").step == result.steps
    rows = list(csv.DictReader((tmp_path / "history.csv").open()))
    assert [int(row["step"]) for row in rows if row["split"] == "validation"] == [result.steps]


def test_cosine_schedule_anneals_over_a_time_budget(binary_images, tmp_path):
    config = quiet(max_steps=10**6, max_seconds=1.0, lr_schedule="cosine", min_lr_ratio=0.1, log_every=1)
    result = Trainer(config, tmp_path).fit(vae(), {"x": binary_images})
    rates = [float(row["learning_rate"]) for row in csv.DictReader((tmp_path / "history.csv").open())]
    assert result.steps < 10**6 and len(rates) == result.steps
    assert rates == sorted(rates, reverse=True)  # decaying by the clock, though the step budget is far away
    assert rates[-1] == pytest.approx(0.1 * config.learning_rate)


def test_time_budget_counts_the_seconds_before_a_resume(binary_images, tmp_path, capsys):
    config = quiet(max_steps=10**6, max_seconds=0.5, checkpoint_every=10**5)
    first = Trainer(config, tmp_path).fit(vae(), {"x": binary_images})
    assert load_checkpoint(tmp_path / "checkpoints" / "last.safetensors").trainer_state["seconds"] >= 0.5
    again = Trainer(config, tmp_path).fit(vae(), {"x": binary_images}, resume=True)
    assert again.steps == first.steps  # the budget was spent: nothing more to train
    assert "already spent: raise max_seconds" in capsys.readouterr().out

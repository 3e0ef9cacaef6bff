"""Train the tiny Gaussian with N processes and save its final weights (run by test_ddp.py)."""

import sys
from pathlib import Path

import torch
from safetensors.torch import save_file

sys.path.insert(0, str(Path(__file__).parent))
from tiny_models import DiagonalGaussian, DiagonalGaussianConfig  # noqa: E402

from genmodels.training import Trainer, TrainerConfig  # noqa: E402


def main(output: str, devices: int, batch_size: int) -> None:
    data = torch.rand(96, 1, 4, 4, generator=torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    model = DiagonalGaussian(DiagonalGaussianConfig(data_shape=(1, 4, 4)))
    config = TrainerConfig(
        max_steps=30,
        batch_size=batch_size,
        learning_rate=0.01,
        accelerator="cpu",
        devices=devices,
        strategy="ddp" if devices > 1 else "auto",
        val_every=10,
        checkpoint_every=10,
        progress_bar=False,
        tensorboard=False,
    )
    trainer = Trainer(config, output)
    trainer.fit(model, {"x": data}, {"x": data[:20]})
    if trainer.is_global_zero:
        save_file(model.state_dict(), str(Path(output) / "final.safetensors"))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))

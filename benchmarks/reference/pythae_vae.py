"""Reference run: the same MLP VAE trained with the pythae package, on a split exported by genmodels.

Runs in its own environment, never imported by genmodels:

    python -m venv .venv-reference
    .venv-reference/bin/pip install torch==2.13.0 pythae==0.1.2
    .venv-reference/bin/python benchmarks/reference/pythae_vae.py DATA_DIR --latent-dim 20 --epochs 75

DATA_DIR holds train.npy, validation.npy and test.npy (binarized images, (N, C, H, W), float32),
written by benchmarks/vae_family.py. Prints one JSON line: test NLL (pythae's importance-sampled
get_nll), wall time of training and of evaluation.
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from pythae.models import VAE, VAEConfig
from pythae.models.base.base_utils import ModelOutput
from pythae.models.nn import BaseDecoder, BaseEncoder
from pythae.pipelines import TrainingPipeline
from pythae.trainers import BaseTrainerConfig
from torch import nn


class Encoder(BaseEncoder):
    """Flatten -> Dense 512 ReLU -> (mean, log-variance): the genmodels MLP VAE's encoder."""

    def __init__(self, input_shape: tuple[int, ...], hidden_dim: int, latent_dim: int) -> None:
        super().__init__()
        self.trunk = nn.Sequential(nn.Flatten(), nn.Linear(math.prod(input_shape), hidden_dim), nn.ReLU())
        self.mean = nn.Linear(hidden_dim, latent_dim)
        self.log_var = nn.Linear(hidden_dim, latent_dim)

    def forward(self, x: torch.Tensor) -> ModelOutput:
        hidden = self.trunk(x)
        return ModelOutput(embedding=self.mean(hidden), log_covariance=self.log_var(hidden))


class Decoder(BaseDecoder):
    """Dense 512 ReLU -> sigmoid pixel probabilities: the genmodels MLP VAE's decoder."""

    def __init__(self, input_shape: tuple[int, ...], hidden_dim: int, latent_dim: int) -> None:
        super().__init__()
        self.input_shape = input_shape
        self.net = nn.Sequential(
            nn.Linear(latent_dim, hidden_dim), nn.ReLU(), nn.Linear(hidden_dim, math.prod(input_shape)), nn.Sigmoid()
        )

    def forward(self, z: torch.Tensor) -> ModelOutput:
        return ModelOutput(reconstruction=self.net(z).view(-1, *self.input_shape))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--latent-dim", type=int, default=20)
    parser.add_argument("--hidden-dim", type=int, default=512)
    parser.add_argument("--epochs", type=int, required=True)
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--learning-rate", type=float, default=1e-3)
    parser.add_argument("--importance-samples", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    arguments = parser.parse_args()

    torch.manual_seed(arguments.seed)
    train, validation, test = (np.load(arguments.data_dir / f"{name}.npy") for name in ("train", "validation", "test"))
    shape = tuple(train.shape[1:])
    model = VAE(
        VAEConfig(input_dim=shape, latent_dim=arguments.latent_dim, reconstruction_loss="bce"),
        encoder=Encoder(shape, arguments.hidden_dim, arguments.latent_dim),
        decoder=Decoder(shape, arguments.hidden_dim, arguments.latent_dim),
    )
    with tempfile.TemporaryDirectory() as output_dir:
        trainer_config = BaseTrainerConfig(
            output_dir=output_dir,
            num_epochs=arguments.epochs,
            learning_rate=arguments.learning_rate,
            per_device_train_batch_size=arguments.batch_size,
            per_device_eval_batch_size=arguments.batch_size,
            optimizer_cls="Adam",
            no_cuda=True,
            seed=arguments.seed,
        )
        pipeline = TrainingPipeline(training_config=trainer_config, model=model)
        started = time.perf_counter()
        pipeline(train_data=train, eval_data=validation)
        train_seconds = time.perf_counter() - started
        best = pipeline.trainer._best_model.eval()
    started = time.perf_counter()
    torch.manual_seed(arguments.seed)
    with torch.no_grad():
        nll = -best.get_nll(torch.from_numpy(test), n_samples=arguments.importance_samples, batch_size=100)
    result = {
        "implementation": "pythae 0.1.2 VAE, same MLP architecture",
        "test_nll_nats": float(nll),
        "importance_samples": arguments.importance_samples,
        "train_seconds": train_seconds,
        "eval_seconds": time.perf_counter() - started,
        "epochs": arguments.epochs,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()

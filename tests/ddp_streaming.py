"""Train on a streamed .npy with 2 gloo processes, recording the rows each process read (run by test_streaming.py)."""

import json
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from tiny_models import DiagonalGaussian, DiagonalGaussianConfig  # noqa: E402

from genmodels.data import DataSpec, load_data  # noqa: E402
from genmodels.data.streaming import ArrayFileSource  # noqa: E402
from genmodels.training import Trainer, TrainerConfig  # noqa: E402


def main(array_file: str, output: str) -> None:
    read: list[int] = []
    original = ArrayFileSource.read_rows

    def recording(self, indices):
        read.extend(int(index) for index in indices)
        return original(self, indices)

    ArrayFileSource.read_rows = recording
    data = load_data(DataSpec(name=array_file, streaming="on", validation_fraction=0.0, test_fraction=0.0))
    torch.manual_seed(0)
    model = DiagonalGaussian(DiagonalGaussianConfig(data_shape=data.data_shape))
    config = TrainerConfig(
        max_steps=6,  # one epoch: 96 rows in global batches of 16
        batch_size=8,
        accelerator="cpu",
        devices=2,
        strategy="ddp",
        data_workers=0,
        monitor=None,
        progress_bar=False,
        tensorboard=False,
    )
    trainer = Trainer(config, output)
    trainer.setup_fabric(multiple_phases=False)
    read.clear()
    trainer.fit(model, data.train.tensors())
    rank = trainer.fabric.global_rank
    # the first 8 rows read are the probe batch that names the history's columns, not training
    Path(output, f"rows-rank{rank}.json").write_text(json.dumps(read[8:]))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])

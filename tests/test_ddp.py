"""Data parallelism on CPU (gloo): 2 processes with batch b equal 1 process with batch 2b."""

import os
import subprocess
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file

SCRIPT = Path(__file__).parent / "ddp_train.py"
SRC = Path(__file__).parents[1] / "src"


def run_training(output: Path, devices: int, batch_size: int) -> dict[str, torch.Tensor]:
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    completed = subprocess.run(
        [sys.executable, str(SCRIPT), str(output), str(devices), str(batch_size)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return load_file(str(output / "final.safetensors"))


def test_two_processes_reach_the_weights_of_one_with_double_batch(tmp_path):
    single = run_training(tmp_path / "single", devices=1, batch_size=16)
    parallel = run_training(tmp_path / "ddp", devices=2, batch_size=8)
    assert single.keys() == parallel.keys()
    for name in single:
        assert torch.allclose(single[name].float(), parallel[name].float(), atol=1e-5, rtol=1e-5), name
    validation_rows = [
        line for line in (tmp_path / "ddp" / "history.csv").read_text().splitlines() if ",validation," in line
    ]
    assert len(validation_rows) == 3

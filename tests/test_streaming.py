"""Streamed data: the same splits, batches and trained weights as in memory; resume; corrupt input named."""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from test_trainer import KilledAfter, quiet
from tiny_models import DiagonalGaussian, DiagonalGaussianConfig

from genmodels.data import DataSpec, load_data
from genmodels.data.packing import pack_dataset
from genmodels.data.streaming import StreamingColumn
from genmodels.errors import DataError
from genmodels.training import Trainer
from genmodels.training.batches import BatchSchedule, take
from genmodels.training.loader import ScheduledBatches

SRC = Path(__file__).parents[1] / "src"


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory) -> Path:
    """60 random 6x6 RGB images in two class folders."""
    root = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    for name in ("cats", "dogs"):
        (root / name).mkdir()
        for index in range(30):
            Image.fromarray(rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)).save(root / name / f"{index:02}.png")
    return root


@pytest.fixture(scope="module")
def packed(image_folder, tmp_path_factory) -> Path:
    output = tmp_path_factory.mktemp("packed") / "pack"
    pack_dataset(str(image_folder), output, shard_bytes=1000)  # several shards of a few images
    return output


def both(name: str, **settings) -> tuple:
    return load_data(DataSpec(name=name, streaming="off", **settings)), load_data(
        DataSpec(name=name, streaming="on", **settings)
    )


@pytest.mark.parametrize("settings", [{}, {"image_size": 4, "channels": 1}, {"classes": (1,), "train_fraction": 0.5}])
def test_streamed_splits_hold_the_in_memory_tensors(image_folder, settings):
    in_memory, streamed = both(str(image_folder), **settings)
    assert isinstance(streamed.train.images, StreamingColumn)
    assert streamed.info["sizes"] == in_memory.info["sizes"]
    assert streamed.data_shape == in_memory.data_shape
    for split in ("train", "validation", "test"):
        assert torch.equal(getattr(streamed, split).images[:], getattr(in_memory, split).images)
        assert torch.equal(getattr(streamed, split).labels, getattr(in_memory, split).labels)


def test_memory_mapped_npy_and_packed_shards_hold_the_in_memory_tensors(image_folder, packed, tmp_path):
    array = np.random.default_rng(1).integers(0, 256, (50, 5, 5, 3), dtype=np.uint8)
    np.save(tmp_path / "images.npy", array)
    in_memory, streamed = both(str(tmp_path / "images.npy"))
    assert torch.equal(streamed.train.images[:], in_memory.train.images)
    from_folder = load_data(DataSpec(name=str(image_folder), streaming="off"))
    from_pack = load_data(str(packed))
    assert len(list(packed.glob("data-*.arrow"))) > 1
    assert from_pack.info["class_names"] == ["cats", "dogs"]
    for split in ("train", "test"):
        assert torch.equal(getattr(from_pack, split).images[:], getattr(from_folder, split).images)
        assert torch.equal(getattr(from_pack, split).labels, getattr(from_folder, split).labels)


def test_packed_directory_opens_with_hugging_face_datasets(packed):
    datasets = pytest.importorskip("datasets")
    reopened = datasets.load_from_disk(str(packed))
    assert reopened.num_rows == 60 and set(reopened.column_names) == {"image", "label"}


def test_streamed_batches_are_the_in_memory_batches_for_the_seed(image_folder):
    in_memory, streamed = both(str(image_folder))
    schedule = BatchSchedule(len(in_memory.train), batch_size=8, world_size=1, rank=0, seed=3)
    reader = ScheduledBatches(streamed.train.tensors(), schedule, first_batch=4, workers=1, to_device=dict)
    for batch_number in range(4, 16):  # across an epoch boundary (6 batches per epoch)
        expected = take(in_memory.train.tensors(), schedule.indices(batch_number))
        got = reader.next()
        assert torch.equal(got["x"], expected["x"]) and torch.equal(got["y"], expected["y"])
    reader.close()


def gaussian(shape) -> DiagonalGaussian:
    torch.manual_seed(0)
    return DiagonalGaussian(DiagonalGaussianConfig(data_shape=shape))


def test_killed_streaming_run_resumes_to_the_in_memory_weights(image_folder, tmp_path):
    in_memory, streamed = both(str(image_folder), image_size=4)
    shape = in_memory.data_shape
    config = quiet(max_steps=40, checkpoint_every=10, val_every=15, log_every=5, batch_size=8, data_workers=1)
    reference = gaussian(shape)
    Trainer(config, tmp_path / "memory").fit(reference, in_memory.train.tensors(), in_memory.validation.tensors())

    with pytest.raises(KeyboardInterrupt):
        KilledAfter(config, tmp_path / "stream").fit(
            gaussian(shape), streamed.train.tensors(), streamed.validation.tensors()
        )
    resumed = gaussian(shape)
    result = Trainer(config, tmp_path / "stream").fit(
        resumed, streamed.train.tensors(), streamed.validation.tensors(), resume=True
    )
    for name, tensor in reference.state_dict().items():
        assert (tensor - resumed.state_dict()[name]).abs().max().item() == 0, name
    rows = list(csv.DictReader((tmp_path / "stream" / "history.csv").open()))
    shares = [float(row["data_wait_share"]) for row in rows if row["split"] == "train"]
    assert len(shares) == 8 and all(0 <= share <= 1 for share in shares)
    assert 0 <= result.data_wait_share <= 1


def test_corrupt_image_is_named_or_skipped_and_counted_when_asked(tmp_path):
    rng = np.random.default_rng(0)
    for index in range(20):
        Image.fromarray(rng.integers(0, 256, (4, 4), dtype=np.uint8)).save(tmp_path / f"{index:02}.png")
    (tmp_path / "07.png").write_bytes(b"not a picture")
    with pytest.raises(DataError, match="07.png: not a readable image"):
        load_data(DataSpec(name=str(tmp_path), streaming="on"))
    data = load_data(DataSpec(name=str(tmp_path), streaming="on", skip_corrupt=True, test_fraction=0.0))
    schedule = BatchSchedule(len(data.train), batch_size=9, world_size=1, rank=0, seed=0)
    reader = ScheduledBatches(data.train.tensors(), schedule, first_batch=0, workers=0, to_device=dict)
    sizes = [len(reader.next()["x"]) for _ in range(2)]  # one epoch: every training image once
    assert reader.skipped == 1 and sum(sizes) == 17


def test_corrupt_shard_is_named_or_skipped_when_asked(packed, tmp_path):
    broken = tmp_path / "pack"
    broken.mkdir()
    for path in packed.iterdir():
        (broken / path.name).write_bytes(path.read_bytes())
    shard = sorted(broken.glob("data-*.arrow"))[1]
    shard.write_bytes(shard.read_bytes()[:100])
    with pytest.raises(DataError, match=shard.name):
        load_data(str(broken))
    data = load_data(DataSpec(name=str(broken), skip_corrupt=True))
    assert data.info["skipped_shards"] == [shard.name]
    assert sum(data.info["sizes"].values()) < 60


def test_streaming_refuses_what_it_cannot_do_by_name(image_folder, packed):
    with pytest.raises(DataError, match="binarize"):
        load_data(DataSpec(name=str(image_folder), streaming="on", binarize=True))
    with pytest.raises(DataError, match="always streamed"):
        load_data(DataSpec(name=str(packed), streaming="off"))
    with pytest.raises(DataError, match="streaming must be auto, on or off"):
        DataSpec(name="mnist5k", streaming="yes")


@pytest.mark.slow
def test_two_ddp_processes_read_disjoint_rows(tmp_path):
    """About 20 s: two gloo processes train on a streamed .npy and record the rows each one read."""
    array = np.random.default_rng(0).integers(0, 256, (96, 4, 4), dtype=np.uint8)
    np.save(tmp_path / "rows.npy", array)
    env = {**os.environ, "PYTHONPATH": f"{SRC}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    script = Path(__file__).parent / "ddp_streaming.py"
    completed = subprocess.run(
        [sys.executable, str(script), str(tmp_path / "rows.npy"), str(tmp_path / "run")],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    read = [set(json.loads((tmp_path / "run" / f"rows-rank{rank}.json").read_text())) for rank in (0, 1)]
    assert read[0] and read[1] and not read[0] & read[1]
    assert len(read[0]) == len(read[1])

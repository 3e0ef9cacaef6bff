"""Data sets: built-ins, a user's folders and arrays, IDX files, splits, binarization, clear errors."""

import gzip
import struct

import numpy as np
import pytest
import torch
from PIL import Image

from genmodels.data import DataSpec, list_datasets, load_data
from genmodels.errors import ConfigError, DataError


def test_registry_lists_the_built_in_sets():
    assert {"digits", "mnist5k"} <= set(list_datasets())


def test_digits_splits_shapes_and_range():
    data = load_data("digits")
    assert data.data_shape == (1, 8, 8)
    assert (len(data.train), len(data.validation), len(data.test)) == (1437, 180, 180)
    for split in (data.train, data.validation, data.test):
        assert split.images.dtype == torch.float32 and split.labels.dtype == torch.int64
        assert 0 <= split.images.min() and split.images.max() <= 1
    assert data.info["num_classes"] == 10 and data.info["binarized"] is False


def test_mnist5k_ships_with_the_package():
    data = load_data("mnist5k")
    assert data.data_shape == (1, 28, 28)
    assert (len(data.train), len(data.validation), len(data.test)) == (4000, 500, 500)
    assert set(data.train.labels.tolist()) == set(range(10))
    assert data.train.images.max() == 1.0 and data.train.images.min() == 0.0


def test_splits_are_seeded_disjoint_and_complete():
    first, again = load_data("digits"), load_data("digits")
    assert torch.equal(first.train.images, again.train.images)
    assert first.info["sha256"] == again.info["sha256"]
    rows = torch.cat([first.train.images, first.validation.images, first.test.images]).flatten(1)
    from sklearn.datasets import load_digits

    original = torch.tensor(load_digits().images / 16.0, dtype=torch.float32).flatten(1)
    # same multiset of rows: every image lands in exactly one split
    assert torch.equal(torch.sort(rows.sum(1)).values, torch.sort(original.sum(1)).values)
    assert len(rows) == len(original)
    other_seed = load_data(DataSpec("digits", split_seed=1))
    assert not torch.equal(other_seed.test.images, first.test.images)


def test_binarization_is_exact_and_repeatable():
    data = load_data(DataSpec("digits", binarize=True))
    values = torch.unique(torch.cat([data.train.images, data.test.images]))
    assert values.tolist() == [0.0, 1.0]
    assert torch.equal(data.train.images, load_data(DataSpec("digits", binarize=True)).train.images)
    grey = load_data("digits").train.images
    assert abs(float(data.train.images.mean()) - float(grey.mean())) < 0.01


def test_resize_and_channels_apply_to_built_ins():
    data = load_data(DataSpec("digits", image_size=16, channels=3))
    assert data.data_shape == (3, 16, 16)
    assert torch.equal(data.train.images[:, 0], data.train.images[:, 1])


def write_png(path, size=(6, 6), mode="L", value=128):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new(mode, size, value if mode == "L" else (value, 0, 0)).save(path)


def test_image_folder_with_class_subfolders(tmp_path):
    for index in range(10):
        write_png(tmp_path / ("cats" if index % 2 else "dogs") / f"{index}.png", value=index * 20)
    data = load_data(DataSpec(str(tmp_path), validation_fraction=0.2, test_fraction=0.2))
    assert data.data_shape == (1, 6, 6)
    assert data.info["class_names"] == ["cats", "dogs"]
    assert (
        sorted(torch.cat([data.train.labels, data.validation.labels, data.test.labels]).tolist()) == [0] * 5 + [1] * 5
    )


def test_image_folder_rgb_resize_and_no_labels(tmp_path):
    for index in range(5):
        write_png(tmp_path / f"{index}.png", size=(10 + index, 8), mode="RGB")
    data = load_data(DataSpec(str(tmp_path), image_size=4, validation_fraction=0.2, test_fraction=0.2))
    assert data.data_shape == (3, 4, 4) and data.train.labels is None
    assert float(data.train.images[:, 0].mean()) == pytest.approx(128 / 255, abs=0.01)
    assert float(data.train.images[:, 1].max()) == 0.0


def test_mixed_sizes_without_image_size_names_files(tmp_path):
    write_png(tmp_path / "a.png", size=(6, 6))
    write_png(tmp_path / "b.png", size=(7, 6))
    with pytest.raises(DataError, match=r"a\.png.*b\.png.*image_size"):
        load_data(str(tmp_path))


def test_empty_folder_and_corrupt_image_are_named(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError, match="empty.*no image files"):
        load_data(str(tmp_path / "empty"))
    write_png(tmp_path / "bad" / "good.png")
    (tmp_path / "bad" / "broken.png").write_bytes(b"\x89PNG not really an image")
    with pytest.raises(DataError, match=r"broken\.png: not a readable image"):
        load_data(str(tmp_path / "bad"))


def test_unknown_name_lists_built_ins():
    with pytest.raises(DataError, match="neither a built-in data set.*digits.*mnist5k"):
        load_data("no-such-data")


@pytest.mark.parametrize(
    ("array", "expected_shape"),
    [
        (np.zeros((10, 5, 6), dtype=np.uint8), (1, 5, 6)),
        (np.zeros((10, 5, 6, 3), dtype=np.uint8), (3, 5, 6)),
        (np.zeros((10, 3, 5, 6), dtype=np.float32), (3, 5, 6)),
        (np.zeros((10, 5, 6, 1), dtype=bool), (1, 5, 6)),
    ],
)
def test_npy_layouts(tmp_path, array, expected_shape):
    np.save(tmp_path / "images.npy", array)
    assert load_data(str(tmp_path / "images.npy")).data_shape == expected_shape


def test_npy_uint8_is_scaled(tmp_path):
    np.save(tmp_path / "images.npy", np.full((10, 4, 4), 255, dtype=np.uint8))
    assert float(load_data(str(tmp_path / "images.npy")).train.images.min()) == 1.0


@pytest.mark.parametrize(
    ("array", "message"),
    [
        (np.full((10, 4, 4), 3.5, dtype=np.float32), r"must lie in \[0, 1\], found 3\.5"),
        (np.zeros((10, 4, 4), dtype=np.complex64), "unsupported dtype complex64"),
        (np.zeros((10, 4), dtype=np.uint8), r"shape \(10, 4\) are not understood"),
        (np.full((10, 4, 4), 300, dtype=np.int32), r"0\.\.255, found 300\.\.300"),
        (np.full((10, 4, 4), np.nan, dtype=np.float32), "NaN"),
        (np.zeros((0, 4, 4), dtype=np.uint8), "holds no images"),
    ],
)
def test_bad_arrays_are_refused_with_the_file_name(tmp_path, array, message):
    np.save(tmp_path / "bad.npy", array)
    with pytest.raises(DataError, match=f"bad.npy.*{message}"):
        load_data(str(tmp_path / "bad.npy"))


def test_npz_with_labels_and_length_mismatch(tmp_path):
    np.savez(tmp_path / "ok.npz", x=np.zeros((10, 4, 4), dtype=np.uint8), y=np.arange(10) % 2)
    data = load_data(str(tmp_path / "ok.npz"))
    assert data.train.labels is not None and data.info["num_classes"] == 2
    np.savez(tmp_path / "bad.npz", images=np.zeros((10, 4, 4), dtype=np.uint8), labels=np.arange(9))
    with pytest.raises(DataError, match="bad.npz: 10 images but 9 labels"):
        load_data(str(tmp_path / "bad.npz"))


def test_pickled_npy_is_refused(tmp_path):
    np.save(tmp_path / "objects.npy", np.array([{"a": 1}] * 3, dtype=object), allow_pickle=True)
    with pytest.raises(DataError, match="objects.npy.*without pickled objects"):
        load_data(str(tmp_path / "objects.npy"))


def write_idx(path, array, magic_type=0x08):
    header = struct.pack(">BBBB", 0, 0, magic_type, array.ndim) + struct.pack(f">{array.ndim}i", *array.shape)
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "wb") as stream:
        stream.write(header + array.astype(">u1").tobytes())


def test_idx_directory_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (20, 5, 5), dtype=np.uint8)
    labels = rng.integers(0, 10, 20, dtype=np.uint8)
    write_idx(tmp_path / "train-images-idx3-ubyte.gz", images)
    write_idx(tmp_path / "train-labels-idx1-ubyte.gz", labels)
    data = load_data(DataSpec(str(tmp_path), validation_fraction=0.0, test_fraction=0.1))
    restored = torch.cat([data.test.images, data.train.images])
    expected = torch.from_numpy(images).float().unsqueeze(1) / 255
    assert torch.equal(torch.sort(restored.flatten(1).sum(1)).values, torch.sort(expected.flatten(1).sum(1)).values)
    assert sorted(torch.cat([data.test.labels, data.train.labels]).tolist()) == sorted(labels.tolist())


def test_truncated_and_wrong_magic_idx_files_are_named(tmp_path):
    images = np.zeros((4, 3, 3), dtype=np.uint8)
    write_idx(tmp_path / "t10k-images-idx3-ubyte", images)
    path = tmp_path / "t10k-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-5])
    with pytest.raises(DataError, match="t10k-images-idx3-ubyte: truncated"):
        load_data(str(tmp_path))
    path.write_bytes(b"\x12\x34\x08\x03" + b"\x00" * 40)
    with pytest.raises(DataError, match="bad magic number"):
        load_data(str(tmp_path))


def test_bad_fractions_and_tiny_data_are_refused(tmp_path):
    with pytest.raises(DataError, match="sum to less than 1"):
        DataSpec("digits", validation_fraction=0.5, test_fraction=0.5)
    np.save(tmp_path / "two.npy", np.zeros((2, 4, 4), dtype=np.uint8))
    with pytest.raises(DataError, match="too few"):
        load_data(str(tmp_path / "two.npy"))


def test_spec_round_trips_and_refuses_unknown_keys():
    spec = DataSpec("digits", binarize=True, image_size=16)
    assert DataSpec.from_dict(spec.to_dict()) == spec
    with pytest.raises(ConfigError, match="DataSpec has no option"):
        DataSpec.from_dict({"name": "digits", "colour": True})

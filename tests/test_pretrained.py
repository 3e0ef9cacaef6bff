"""save_pretrained / from_pretrained: exact round trips, and clear refusals of bad files."""

import json

import pytest
import torch

import genmodels
from genmodels.errors import CheckpointError
from genmodels.models import GAN, VAE, GANConfig, GenerativeModel, VAEConfig

SHAPE = (1, 8, 8)


@pytest.fixture
def saved_vae(tmp_path):
    torch.manual_seed(0)
    vae = VAE(VAEConfig(data_shape=SHAPE, hidden_dim=32))
    vae.save_pretrained(tmp_path / "vae")
    return vae, tmp_path / "vae"


def test_directory_layout_is_config_json_and_safetensors(saved_vae):
    _, directory = saved_vae
    assert sorted(p.name for p in directory.iterdir()) == ["config.json", "model.safetensors"]
    config = json.loads((directory / "config.json").read_text())
    assert config["model_type"] == "vae"
    assert config["config"]["hidden_dim"] == 32 and config["config"]["data_shape"] == [1, 8, 8]
    assert "torch" in config["versions"] and len(config["weights_sha256"]) == 64


@pytest.mark.parametrize("loader", [genmodels.load, GenerativeModel.from_pretrained, VAE.from_pretrained])
def test_round_trip_gives_bit_identical_samples(saved_vae, loader):
    vae, directory = saved_vae
    loaded = loader(directory)
    assert isinstance(loaded, VAE) and loaded.config == vae.config and not loaded.training
    for name, tensor in vae.state_dict().items():
        assert torch.equal(tensor, loaded.state_dict()[name]), name
    expected = vae.sample(16, generator=torch.Generator().manual_seed(7))
    assert torch.equal(loaded.sample(16, generator=torch.Generator().manual_seed(7)), expected)


def test_gan_round_trip(tmp_path):
    gan = GAN(GANConfig(data_shape=SHAPE))
    gan.save_pretrained(tmp_path)
    loaded = genmodels.load(tmp_path)
    assert torch.equal(
        loaded.sample(4, generator=torch.Generator().manual_seed(1)),
        gan.sample(4, generator=torch.Generator().manual_seed(1)),
    )


def test_wrong_model_type_is_refused(saved_vae):
    with pytest.raises(CheckpointError, match="holds a 'vae' model"):
        GAN.from_pretrained(saved_vae[1])


def test_flipped_byte_in_weights_is_refused(saved_vae):
    weights = saved_vae[1] / "model.safetensors"
    data = bytearray(weights.read_bytes())
    data[-10] ^= 0xFF
    weights.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="SHA-256"):
        genmodels.load(saved_vae[1])


def test_truncated_weights_are_refused_even_without_a_recorded_hash(saved_vae):
    directory = saved_vae[1]
    config = json.loads((directory / "config.json").read_text())
    del config["weights_sha256"]
    (directory / "config.json").write_text(json.dumps(config))
    weights = directory / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:200])
    with pytest.raises(CheckpointError, match="records no weights_sha256"):
        genmodels.load(directory)
    with pytest.raises(CheckpointError, match="corrupt or truncated"), pytest.warns(UserWarning, match="unverified"):
        genmodels.load(directory, allow_missing_hash=True)


def test_mismatched_shapes_name_the_tensor(saved_vae):
    directory = saved_vae[1]
    config = json.loads((directory / "config.json").read_text())
    config["config"]["hidden_dim"] = 64
    (directory / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match=r"encoder\.1\.weight: saved \(32, 64\), model expects \(64, 64\)"):
        genmodels.load(directory)


def test_missing_and_corrupt_config_are_refused(saved_vae, tmp_path):
    with pytest.raises(CheckpointError, match="not a directory"):
        genmodels.load(tmp_path / "nowhere")
    directory = saved_vae[1]
    (directory / "config.json").write_text("{not json")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        genmodels.load(directory)
    (directory / "config.json").unlink()
    with pytest.raises(CheckpointError, match="config.json is missing"):
        genmodels.load(directory)


def test_unknown_config_option_is_refused(saved_vae):
    directory = saved_vae[1]
    config = json.loads((directory / "config.json").read_text())
    config["config"]["depth"] = 3
    (directory / "config.json").write_text(json.dumps(config))
    with pytest.raises(CheckpointError, match="no option"):
        genmodels.load(directory)


def test_a_pickle_file_is_never_unpickled(saved_vae):
    """A pickle posing as weights is refused by its hash or format, never executed."""
    directory = saved_vae[1]
    torch.save({"x": torch.zeros(1)}, directory / "model.safetensors")
    with pytest.raises(CheckpointError):
        genmodels.load(directory)

"""Validated configs and side files, bounded requests: a user's mistake is one clear genmodels error."""

import dataclasses
import json
import typing
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file
from typer.testing import CliRunner

import genmodels
from genmodels.applications.anomaly import Detector
from genmodels.cli import sampling
from genmodels.cli.main import app
from genmodels.data.spec import DataSpec
from genmodels.data.tabular import TabularPreprocessor, read_table
from genmodels.data.tokenizers import CharTokenizer, load_tokenizer
from genmodels.errors import CheckpointError, ConfigError, DataError, GenmodelsError, ResourceError
from genmodels.io import memory
from genmodels.models.registry import BUILTIN_MODELS, build_model, get_model_class
from genmodels.models.sizing import model_bytes
from genmodels.models.tabular.made import TabularMADE, TabularMADEConfig
from genmodels.models.vae.base import VAEConfig
from genmodels.models.vae.mlp import VAE
from genmodels.runs.spec import make_spec
from genmodels.training.checkpoint import load_checkpoint
from genmodels.training.config import TrainerConfig

runner = CliRunner()
BAD_INTEGERS = ["abc", 2.5, -3, None, 512.0, True]


def refused(args: list, match: str) -> str:
    """Run a command that must fail with one line naming ``match``: a genmodels error or a usage error."""
    result = runner.invoke(app, [str(arg) for arg in args])
    assert result.exit_code != 0, result.output
    if isinstance(result.exception, SystemExit):  # a usage error: click prints it, exit status 2
        assert result.exit_code == 2 and match in " ".join(result.output.replace("│", " ").split()), result.output
        return result.output
    assert isinstance(result.exception, GenmodelsError), repr(result.exception)
    message = str(result.exception)
    assert match in message and "\n" not in message, message
    return message


@pytest.fixture
def vae_dir(tmp_path) -> Path:
    """A saved 8x8 VAE with a run.json beside it, as `train` leaves it (without training: no steps needed)."""
    torch.manual_seed(0)
    run = tmp_path / "run"
    VAE(VAEConfig(data_shape=(1, 8, 8), hidden_dim=8, latent_dim=2, importance_samples=4)).save_pretrained(
        run / "model"
    )
    spec = make_spec("vae", {"name": "digits"}, {"hidden_dim": 8, "latent_dim": 2}, {"max_steps": 1})
    (run / "run.json").write_text(json.dumps(spec.to_dict()))
    return run


def edit_json(path: Path, change) -> None:
    values = json.loads(path.read_text())
    change(values)
    path.write_text(json.dumps(values))


def set_model_setting(run: Path, name: str, value) -> None:
    edit_json(run / "model" / "config.json", lambda saved: saved["config"].__setitem__(name, value))


# --- 9: every config field is checked for its type and range ---------------------------------------------


@pytest.mark.parametrize("value", BAD_INTEGERS)
def test_a_bad_integer_setting_is_refused_by_name(value):
    with pytest.raises(ConfigError, match=r"^VAEConfig.latent_dim: expected an integer >= 1, got "):
        VAEConfig(latent_dim=value)
    with pytest.raises(ConfigError, match=r"VAEConfig.hidden_dim: expected an integer >= 1"):
        VAEConfig.from_dict({"hidden_dim": value})


def test_shapes_fractions_and_trainer_settings_are_checked():
    with pytest.raises(ConfigError, match=r"VAEConfig.data_shape: expected a list of \(an integer >= 1\)"):
        VAEConfig(data_shape=(1, -8, 8))
    assert VAEConfig.from_dict({"data_shape": [1, 8, 8]}).data_shape == (1, 8, 8)
    with pytest.raises(ConfigError, match=r"TrainerConfig.batch_size: expected an integer >= 1, got 'x'"):
        TrainerConfig.from_dict({"batch_size": "x"})
    with pytest.raises(ConfigError, match=r"TrainerConfig.learning_rate: expected a finite number > 0, got nan"):
        TrainerConfig(learning_rate=float("nan"))
    with pytest.raises(ConfigError, match=r"DataSpec.validation_fraction: expected a finite number >= 0 and <= 1"):
        DataSpec.from_dict({"name": "digits", "validation_fraction": "a"})
    with pytest.raises(ConfigError, match="DataSpec lacks the option"):
        DataSpec.from_dict({})
    assert TrainerConfig(learning_rate=1).learning_rate == 1.0 and isinstance(TrainerConfig().betas, tuple)


def _config_classes() -> list[type]:
    classes = {get_model_class(name).config_class for name in BUILTIN_MODELS}
    return sorted(classes, key=lambda cls: cls.__name__)


@pytest.mark.parametrize("config_class", _config_classes(), ids=lambda cls: cls.__name__)
def test_every_field_of_every_model_config_refuses_a_value_of_no_type(config_class):
    for field in dataclasses.fields(config_class):
        with pytest.raises(ConfigError, match=rf"^{config_class.__name__}\.{field.name}: expected "):
            config_class(**{field.name: 1j})
    hints = typing.get_type_hints(config_class, include_extras=True)
    sizes = [field.name for field in dataclasses.fields(config_class) if "Range(minimum=1" in str(hints[field.name])]
    for name in sizes:
        with pytest.raises(ConfigError, match=rf"{name}: expected .*>= 1"):
            config_class(**{name: 0})


@pytest.mark.parametrize("value", ["abc", 2.5, -3])
def test_train_refuses_a_bad_set_value(tmp_path, value):
    refused(
        ["train", "vae", "--data", "digits", "--set", f"model.latent_dim={value}", "-o", tmp_path / "run"],
        "VAEConfig.latent_dim: expected an integer >= 1",
    )


@pytest.mark.parametrize("value", ["abc", 512.0, -5, None])
def test_sample_evaluate_finetune_and_ensemble_refuse_a_hand_edited_config(vae_dir, tmp_path, value):
    set_model_setting(vae_dir, "hidden_dim", value)
    expected = "config.json: invalid config: VAEConfig.hidden_dim: expected an integer >= 1"
    refused(["sample", vae_dir, "-n", "2", "-o", tmp_path / "s.png"], expected)
    refused(["evaluate", vae_dir], expected)
    refused(["finetune", vae_dir, "--data", "digits", "-o", tmp_path / "tuned", "--max-steps", "1"], expected)
    refused(["ensemble", "create", vae_dir, vae_dir, "-o", tmp_path / "ensemble"], expected)


def test_a_negative_data_shape_in_config_json_is_refused(vae_dir):
    set_model_setting(vae_dir, "data_shape", [1, -8, 8])
    with pytest.raises(CheckpointError, match=r"config.json: invalid config: VAEConfig.data_shape: expected a list"):
        genmodels.load(vae_dir)


# --- 6: importance samples are bounded ------------------------------------------------------------------


@pytest.mark.parametrize("value", ["0", "-5", "1000000000000"])
def test_evaluate_refuses_importance_samples_out_of_range(vae_dir, value):
    refused(["evaluate", vae_dir, "--importance-samples", value], "expected an integer >= 1 and <= 10000")


def test_importance_samples_in_config_json_are_bounded(vae_dir):
    set_model_setting(vae_dir, "importance_samples", 10**12)
    with pytest.raises(CheckpointError, match=r"importance_samples: expected an integer >= 1 and <= 10000"):
        genmodels.load(vae_dir)


# --- 7: molecules prepare bounds line length -------------------------------------------------------------


def test_molecules_prepare_skips_and_counts_overlong_lines(tmp_path):
    pytest.importorskip("rdkit")
    source = tmp_path / "in.smi"
    source.write_text("CCO\n" + "C" * 2_000_000 + "\nc1ccccc1\n")
    result = runner.invoke(app, ["molecules", "prepare", str(source), "-o", str(tmp_path / "out.smi")])
    assert result.exit_code == 0, result.output
    assert "2 valid, 1 invalid of 3 rows" in result.output
    assert "1 of the invalid rows are longer than 2000 characters" in result.output
    assert (tmp_path / "out.smi").read_text().split() == ["CCO", "c1ccccc1"]


# --- 8: memory is estimated before a model or a request is allocated -------------------------------------


def test_a_model_too_large_for_memory_is_refused_before_allocation(monkeypatch):
    with pytest.raises(ResourceError, match=r"a vae with this config \(.* of weights\) needs about .* of memory"):
        build_model("vae", data_shape=(1, 28, 28), hidden_dim=30_000_000)
    monkeypatch.setattr(memory, "available_memory", lambda: 1_000_000)
    with pytest.raises(ResourceError, match=r"\(3\.2 MB of weights\) needs about 3\.2 MB of memory, but 1\.0 MB is"):
        build_model("vae", data_shape=(1, 28, 28), hidden_dim=512)  # two 784 x 512 float32 layers and the rest
    monkeypatch.setattr(memory, "available_memory", lambda: 4_000_000)
    assert isinstance(build_model("vae", data_shape=(1, 28, 28), hidden_dim=512), VAE)


NOT_BUILT_ON_META = {"flow", "tabular-flow", "image-flow"}
"""zuko's masked layers call ``torch.unique``, which has no meta kernel: these models are not estimated."""


@pytest.mark.parametrize("name", sorted(set(BUILTIN_MODELS) - {"ensemble"}))
def test_the_estimate_is_each_family_s_exact_size_and_leaves_the_seeded_weights_alone(name):
    cls = get_model_class(name)
    shapes = {"dcgan": (1, 28, 28), "wgan-gp": (1, 28, 28), "tabular-made": (4,), "tabular-vae": (4,)}
    config = cls.config_class(**({"data_shape": shapes[name]} if name in shapes else {}))
    torch.manual_seed(0)
    plain = cls(config)
    torch.manual_seed(0)
    estimate = model_bytes(cls, config)
    checked = cls(config)
    tensors = [*plain.parameters(), *plain.buffers()]
    if name in NOT_BUILT_ON_META:
        assert estimate is None
    else:
        assert estimate == sum(tensor.numel() * tensor.element_size() for tensor in tensors)
    assert all(torch.equal(value, checked.state_dict()[key]) for key, value in plain.state_dict().items())


def test_a_saved_config_too_large_for_memory_is_refused(vae_dir):
    set_model_setting(vae_dir, "hidden_dim", 1_000_000_000)
    with pytest.raises(ResourceError, match="a vae with this config"):
        genmodels.load(vae_dir)


def test_sample_refuses_a_request_that_cannot_fit_with_its_numbers(vae_dir, tmp_path):
    message = refused(["sample", vae_dir, "-n", "100000000000", "-o", tmp_path / "s.png"], "100000000000 samples")
    assert "of shape (1, 8, 8) needs about 25.6 TB of memory, but" in message and "is available" in message
    assert not (tmp_path / "s.png").exists()


def test_sample_writes_a_large_npy_in_chunks_with_the_unchunked_first_rows(vae_dir, tmp_path, monkeypatch):
    result = runner.invoke(app, ["sample", str(vae_dir), "-n", "7", "--format", "npy", "-o", str(tmp_path / "a.npy")])
    assert result.exit_code == 0, result.output
    monkeypatch.setattr(sampling, "SAMPLE_CHUNK_BYTES", 3 * 64 * 4)  # three 8x8 samples per chunk
    result = runner.invoke(app, ["sample", str(vae_dir), "-n", "7", "--format", "npy", "-o", str(tmp_path / "b.npy")])
    assert result.exit_code == 0 and "wrote 7 samples to" in result.output, result.output
    whole, chunked = np.load(tmp_path / "a.npy"), np.load(tmp_path / "b.npy")
    assert chunked.shape == whole.shape == (7, 1, 8, 8) and chunked.dtype == np.float32
    assert np.allclose(chunked[:3], whole[:3], atol=1e-6) and ((chunked >= 0) & (chunked <= 1)).all()
    assert not list(tmp_path.glob(".*.tmp"))


# --- 11, 12, 13: side files are checked against the layout they describe ---------------------------------


@pytest.fixture
def table_model(tmp_path) -> Path:
    """A tabular MADE saved with its preprocessor and a calibrated detector, as `detect fit` leaves it."""
    frame = pd.DataFrame({"a": np.arange(20.0), "b": np.arange(20.0) % 7, "c": ["x", "y"] * 10})
    preprocessor = TabularPreprocessor.fit(frame)
    model = TabularMADE(TabularMADEConfig(data_shape=(4,), **preprocessor.model_settings(), hidden_sizes=(8,)))
    model.preprocessor = preprocessor
    model.save_pretrained(tmp_path / "made")
    Detector(model, false_positive_rate=0.1).fit(preprocessor.transform(frame)).save(tmp_path / "made")
    frame.to_csv(tmp_path / "rows.csv", index=False)
    return tmp_path / "made"


def rehash(directory: Path, name: str) -> None:
    """Record a hand-edited side file's new SHA-256, as a user who knows the format would."""
    from genmodels.io.files import sha256_file

    edit_json(
        directory / "config.json",
        lambda saved: saved["extra_files_sha256"].__setitem__(name, sha256_file(directory / name)),
    )


def test_detect_score_without_a_detector_is_one_line(table_model, tmp_path):
    (table_model / "detector.json").unlink()
    refused(["detect", "score", table_model, table_model.parent / "rows.csv", "-o", tmp_path / "s.csv"],
            "detector.json is missing")  # fmt: skip


@pytest.mark.parametrize(("key", "value"), [("threshold", "high"), ("threshold", None), ("calibration_rows", -1)])
def test_a_detector_with_a_bad_threshold_is_refused(table_model, key, value):
    edit_json(table_model / "detector.json", lambda saved: saved.__setitem__(key, value))
    with pytest.raises(CheckpointError, match=rf"detector.json: not a detector genmodels can read: .*{key}: expected"):
        Detector.load(genmodels.load(table_model), table_model)


@pytest.mark.parametrize(
    ("change", "match"),
    [
        (lambda saved: saved.__setitem__("categories", "c"), "categories: expected an object"),
        (lambda saved: saved.__setitem__("means", saved["means"][:1]), "2 numeric column.s. need as many means"),
        (lambda saved: saved.__setitem__("scales", [1.0, -2.0]), r"scales: expected a list of \(a finite number > 0\)"),
        (lambda saved: saved["categories"].__setitem__("c", []), "categories of column 'c' must be distinct"),
    ],
)
def test_a_preprocessor_that_does_not_fit_its_columns_is_refused(table_model, change, match):
    edit_json(table_model / "preprocessor.json", change)
    rehash(table_model, "preprocessor.json")
    with pytest.raises(
        DataError, match=rf"preprocessor.json is missing or not a preprocessor genmodels wrote: .*{match}"
    ):
        genmodels.load(table_model)


@pytest.mark.parametrize(
    ("characters", "match"), [(5, "characters: expected text, got 5"), ("", "characters: expected at least one unit")]
)
def test_a_tokenizer_with_bad_characters_is_refused(tmp_path, characters, match):
    CharTokenizer("abc").save(tmp_path)
    edit_json(tmp_path / "tokenizer.json", lambda saved: saved.__setitem__("characters", characters))
    with pytest.raises(CheckpointError, match=rf"tokenizer.json: not a char tokenizer genmodels can read: {match}"):
        load_tokenizer(tmp_path)
    (tmp_path / "tokenizer.json").write_text('{"type": "selfies", "symbols": [1, 2]}')
    with pytest.raises(CheckpointError, match=r"symbols: expected a list of \(text\)"):
        load_tokenizer(tmp_path)


@pytest.mark.parametrize("adapter", ["x", {"rank": "r", "alpha": 1.0}, {"rank": 2, "alpha": 1.0, "base_model": {}}])
def test_a_bad_adapter_entry_is_refused(vae_dir, adapter):
    edit_json(vae_dir / "model" / "config.json", lambda saved: saved.__setitem__("adapter", adapter))
    with pytest.raises(CheckpointError, match=r"config.json: invalid adapter: "):
        genmodels.load(vae_dir)


@pytest.mark.parametrize("step", ["abc", -1, 2.5, None])
def test_checkpoint_metadata_with_a_bad_step_is_refused(tmp_path, step):
    path = tmp_path / "last.safetensors"
    state = {"step": step, "optimizers": {}, "schedulers": {}, "trainer_state": {}, "has_best_model": False}
    save_file({"model/w": torch.zeros(2)}, str(path), metadata={"genmodels_training_state": json.dumps(state)})
    with pytest.raises(CheckpointError, match=r"last.safetensors: its training state is not one genmodels wrote: step"):
        load_checkpoint(path)
    state["step"] = 3
    save_file({"model/w": torch.zeros(2)}, str(path), metadata={"genmodels_training_state": json.dumps(state)})
    assert load_checkpoint(path).step == 3


# --- 14: a missing weights hash is refused unless the caller opts in ------------------------------------


def test_missing_weights_hash_is_refused_unless_allowed_with_a_warning(vae_dir):
    edit_json(vae_dir / "model" / "config.json", lambda saved: saved.pop("weights_sha256"))
    with pytest.raises(CheckpointError, match="records no weights_sha256, so .* cannot be verified"):
        genmodels.load(vae_dir)
    with pytest.warns(UserWarning, match="unverified"):
        model = genmodels.load(vae_dir, allow_missing_hash=True)
    with safe_open(str(vae_dir / "model" / "model.safetensors"), framework="pt") as stored:
        assert torch.equal(model.state_dict()["encoder.1.weight"], stored.get_tensor("encoder.1.weight"))


# --- 15: tables: finite numbers, no text in numeric columns, row and column named ------------------------


@pytest.mark.parametrize("value", ["inf", "-inf", "1e300"])
def test_reading_a_table_refuses_infinite_and_huge_numbers(tmp_path, value):
    (tmp_path / "t.csv").write_text(f"a,b\n1,2\n3,{value}\n5,6\n")
    with pytest.raises(DataError, match=r"t.csv: column 'b' row\(s\) \[1\] hold \[.*\]: numbers must be finite"):
        read_table(tmp_path / "t.csv")


def test_scoring_refuses_text_and_far_values_in_a_numeric_column(table_model, tmp_path):
    preprocessor = genmodels.load(table_model).preprocessor
    rows = read_table(table_model.parent / "rows.csv")
    text = rows.astype({"a": object})
    text.loc[4, "a"] = "oops"
    with pytest.raises(DataError, match=r"column 'a' is not numeric: row\(s\) \[4\] hold text \['oops'\]"):
        preprocessor.transform(text)
    far = rows.copy()
    far.loc[6, "b"] = 1e30
    with pytest.raises(DataError, match=r"column 'b' row 6 holds 1e\+30, .* training standard deviations"):
        preprocessor.transform(far)
    text.to_csv(tmp_path / "text.csv", index=False)
    refused(
        ["detect", "score", table_model, tmp_path / "text.csv", "-o", tmp_path / "s.csv"], "column 'a' is not numeric"
    )


def test_a_numeric_column_with_a_typo_is_not_fitted_as_categories():
    frame = pd.DataFrame({"a": ["1.5", "2", "x3", "4"], "c": ["u", "v", "u", "v"]})
    with pytest.raises(DataError, match=r"column 'a' holds numbers, but row\(s\) \[2\] hold text \['x3'\]"):
        TabularPreprocessor.fit(frame)
    assert TabularPreprocessor.fit(frame, categorical_columns=["a", "c"]).categories["a"] == ["1.5", "2", "4", "x3"]

"""Property-based fuzzing of what users type and hand over: every outcome is success or one clear line.

Hypothesis generates command-line values, model and trainer settings, hand-edited config and side
files, tables, arrays and SMILES files; ``fuzzing.judge`` runs each case and fails it on a
traceback, a hang or a file changed that should not have been. CI runs the ``ci`` profile (a fixed,
derandomized set of examples); ``GENMODELS_FUZZ_PROFILE=long`` runs many more.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fuzzing import assert_acceptable, judge, judge_call
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

import genmodels
from genmodels.cli.main import app
from genmodels.io.files import sha256_file

settings.register_profile(
    "ci",
    max_examples=5,
    deadline=None,
    derandomize=True,
    database=None,
    phases=[Phase.explicit, Phase.generate],  # no shrinking: each example may be a training run
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.register_profile(
    "long",
    max_examples=150,
    deadline=None,
    database=None,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.load_profile(os.environ.get("GENMODELS_FUZZ_PROFILE", "ci"))
EXAMPLES = settings.default.max_examples
TINY_TRAINING = ["--max-steps", "2", "--batch-size", "16", "--val-every", "1", "--checkpoint-every", "1"]

# What a user might type for a number: numbers of every size and sign, and the text that is not one.
typed_values = st.one_of(
    st.integers(min_value=-5, max_value=600).map(str),
    st.sampled_from(["0", "-1", "1000000000", "1000000000000", "2.5", "512.0", "1e300", "-1e-9", "1e400"]),
    st.sampled_from(["nan", "inf", "-inf", "abc", "", " ", "null", "None", "true", "[]", "[1, 2]", "{}", "0x10"]),
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=8),
)
# What a hand-edited JSON file might hold instead of the right value.
json_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**12), max_value=10**12),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=6),
    st.lists(st.integers(min_value=-3, max_value=3), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
)


def scratch() -> Path:
    """A fresh folder per example (Hypothesis reuses a test's fixtures across its examples)."""
    return Path(tempfile.mkdtemp(prefix="genmodels-fuzz-"))


def train_tiny(*args: object) -> Path:
    result = CliRunner().invoke(app, ["train", *map(str, args), *TINY_TRAINING, "--no-progress"])
    assert result.exit_code == 0, f"{result.output}\n{result.exception!r}"
    return Path(args[args.index("-o") + 1])


def table(rows: int = 120, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "amount": rng.lognormal(3, 1, rows).round(2),
            "age": rng.integers(18, 90, rows),
            "kind": rng.choice(["card", "cash", "wire"], rows),
        }
    )


@pytest.fixture(scope="module")
def vae_run(tmp_path_factory) -> Path:
    return train_tiny("vae", "--data", "digits", "-o", tmp_path_factory.mktemp("runs") / "vae")


@pytest.fixture(scope="module")
def detector_run(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("detector")
    table().to_csv(folder / "normal.csv", index=False)
    run = folder / "run"
    result = CliRunner().invoke(
        app, ["detect", "fit", "--model", "tabular-made", "--data", str(folder / "normal.csv"), "-o", str(run),
              "--max-steps", "5"],
    )  # fmt: skip
    assert result.exit_code == 0, f"{result.output}\n{result.exception!r}"
    return run


@pytest.fixture(scope="module")
def text_run(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("text")
    (folder / "corpus.txt").write_text("to be or not to be, that is the question.\n" * 40, encoding="utf-8")
    return train_tiny("charrnn", "--data", folder / "corpus.txt", "-o", folder / "run")


@settings(max_examples=max(4, EXAMPLES // 2))
@given(section_field=st.sampled_from(["model.latent_dim", "model.hidden_dim", "model.depth", "model.likelihood",
                                      "trainer.batch_size", "trainer.learning_rate", "trainer.max_steps",
                                      "trainer.gradient_clip_norm", "data.image_size", "data.validation_fraction"]),
       value=typed_values)  # fmt: skip
def test_settings_typed_on_the_command_line(section_field: str, value: str) -> None:
    run = scratch() / "run"
    outcome = judge(
        f"train --set {section_field}={value!r}",
        ["train", "vae", "--data", "digits", "--set", f"{section_field}={value}", "-o", run, *TINY_TRAINING,
         "--no-progress"],
    )  # fmt: skip
    assert_acceptable(outcome)


@settings(max_examples=EXAMPLES)
@given(option=st.sampled_from(["--max-steps", "--batch-size", "--lr", "--seed", "--devices", "--accelerator",
                               "--precision", "--val-every", "--gradient-clip-norm", "--max-seconds"]),
       value=typed_values)  # fmt: skip
def test_training_options(option: str, value: str) -> None:
    run = scratch() / "run"
    arguments = ["train", "vae", "--data", "digits", "-o", run, *TINY_TRAINING, option, value, "--no-progress"]
    assert_acceptable(judge(f"train {option} {value!r}", arguments))


def _edit_json(path: Path, keys: list[str], value: object) -> None:
    document = json.loads(path.read_text(encoding="utf-8"))
    node = document
    for key in keys[:-1]:
        node = node[key]
    node[keys[-1]] = value
    path.write_text(json.dumps(document), encoding="utf-8")


@settings(max_examples=EXAMPLES * 2)
@given(field=st.sampled_from(["latent_dim", "hidden_dim", "depth", "data_shape", "likelihood", "num_classes",
                              "prior", "beta"]), value=json_values)  # fmt: skip
def test_hand_edited_model_config(vae_run: Path, field: str, value: object) -> None:
    copy = scratch() / "run"
    shutil.copytree(vae_run, copy)
    _edit_json(copy / "model" / "config.json", ["config", field], value)
    assert_acceptable(judge_call(f"load config.{field}={value!r}", genmodels.load, copy, untouched=[copy]))
    outcome = judge(f"sample config.{field}={value!r}", ["sample", copy, "-n", "4", "-o", copy.parent / "s.npy"],
                    untouched=[copy])  # fmt: skip
    assert_acceptable(outcome)


@settings(max_examples=EXAMPLES * 2)
@given(option=st.sampled_from(["-n", "--seed", "--label", "--truncation", "--candidates", "--format", "--output"]),
       value=typed_values)  # fmt: skip
def test_sample_options(vae_run: Path, option: str, value: str) -> None:
    folder = scratch()
    arguments = ["sample", vae_run, "-o", folder / "samples.npy", option, value]
    if option == "--output":
        arguments = ["sample", vae_run, "-n", "4", option, folder / value if value.strip() else value]
    assert_acceptable(judge(f"sample {option} {value!r}", arguments, untouched=[vae_run]))


@settings(max_examples=EXAMPLES)
@given(value=typed_values)
def test_importance_samples(vae_run: Path, value: str) -> None:
    arguments = ["evaluate", vae_run, "--importance-samples", value, "-o", scratch() / "evaluation.json"]
    outcome = judge(f"evaluate --importance-samples {value!r}", arguments, untouched=[vae_run / "model"], seconds=90)
    assert_acceptable(outcome)


cells = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.text(max_size=5),
    st.sampled_from(["card", "cash", "wire", "cheque", "", "NaN", "1e300", "inf"]),
)


@settings(max_examples=EXAMPLES * 2)
@given(column=st.sampled_from(["amount", "age", "kind"]), row=st.integers(0, 9), value=cells,
       drop=st.sampled_from([None, "amount", "kind"]), rows=st.sampled_from([10, 1, 0]))  # fmt: skip
def test_tables_given_to_a_fitted_detector(detector_run: Path, column, row, value, drop, rows) -> None:
    folder = scratch()
    frame = table(10, seed=1).astype(object)
    frame.loc[row, column] = value
    frame = frame.head(rows)
    if drop is not None:
        frame = frame.drop(columns=drop)
    frame.to_csv(folder / "rows.csv", index=False)
    arguments = ["detect", "score", detector_run, folder / "rows.csv", "-o", folder / "scores.csv"]
    outcome = judge(f"detect score {column}[{row}]={value!r} drop={drop} rows={rows}", arguments,
                    untouched=[detector_run])  # fmt: skip
    assert_acceptable(outcome)


@settings(max_examples=EXAMPLES)
@given(columns=st.lists(st.sampled_from(["amount", "age", "kind", "empty", "constant", "mixed", "huge"]),
                        min_size=1, max_size=4, unique=True), rows=st.sampled_from([0, 1, 3, 40]))  # fmt: skip
def test_tables_to_train_on(columns: list[str], rows: int) -> None:
    folder = scratch()
    base = table(max(rows, 1)).head(rows)
    made = {
        "empty": [math.nan] * rows,
        "constant": [7.0] * rows,
        "mixed": [str(i) if i % 3 else "x" for i in range(rows)],
        "huge": [1e300 if i % 2 else -1e300 for i in range(rows)],
    }
    frame = pd.DataFrame({name: base[name] if name in base else made[name] for name in columns})
    frame.to_csv(folder / "table.csv", index=False)
    arguments = ["train", "tabular-made", "--data", folder / "table.csv", "-o", folder / "run", *TINY_TRAINING,
                 "--no-progress"]  # fmt: skip
    assert_acceptable(judge(f"train tabular-made on {columns} x {rows}", arguments))


@settings(max_examples=EXAMPLES)
@given(shape=st.sampled_from([(0, 8, 8), (10,), (10, 8, 8), (10, 1, 8, 8), (10, 2, 3, 4, 5), (10, 0)]),
       dtype=st.sampled_from(["float32", "float64", "int64", "bool", "complex64", "uint8"]),
       fill=st.sampled_from([0.0, 1.0, math.nan, math.inf, 300.0]))  # fmt: skip
def test_arrays_to_train_on(shape: tuple[int, ...], dtype: str, fill: float) -> None:
    folder = scratch()
    array = np.zeros(shape, dtype=np.float64)
    array.flat[::2] = fill
    with np.errstate(invalid="ignore"):
        np.save(folder / "images.npy", array.astype(dtype))
    arguments = ["train", "vae", "--data", folder / "images.npy", "-o", folder / "run", *TINY_TRAINING,
                 "--no-progress"]  # fmt: skip
    assert_acceptable(judge(f"train vae on {dtype}{list(shape)} filled {fill}", arguments))


@settings(max_examples=EXAMPLES)
@given(lines=st.lists(st.one_of(st.sampled_from(["CCO", "c1ccccc1", "C1CC", "N#N", "[Na+].[Cl-]", "", "C" * 500]),
                                st.text(max_size=12)), min_size=0, max_size=12))  # fmt: skip
def test_smiles_files(lines: list[str]) -> None:
    pytest.importorskip("rdkit")
    folder = scratch()
    (folder / "input.smi").write_text("\n".join(lines) + "\n", encoding="utf-8", errors="surrogatepass")
    arguments = ["molecules", "prepare", folder / "input.smi", "-o", folder / "corpus.smi"]
    assert_acceptable(judge(f"molecules prepare {lines!r}", arguments))


DETECTOR_SIDE_FILE_KEYS = [
    ("detector.json", "threshold"),
    ("detector.json", "score"),
    ("detector.json", "false_positive_rate"),
    ("preprocessor.json", "categories"),
    ("preprocessor.json", "means"),
    ("preprocessor.json", "scales"),
    ("preprocessor.json", "numeric_columns"),
    ("preprocessor.json", "unknown_categories"),
]


def _rehash(model_dir: Path, name: str) -> None:
    """Record a hand-edited side file's new hash, so loading reaches the file's own checks."""
    config_path = model_dir / "config.json"
    config = json.loads(config_path.read_text(encoding="utf-8"))
    config.setdefault("extra_files_sha256", {})[name] = sha256_file(model_dir / name)
    config_path.write_text(json.dumps(config), encoding="utf-8")


@settings(max_examples=EXAMPLES * 2)
@given(key=st.sampled_from(["characters", "kind", "special_tokens", "vocab_size"]), value=json_values)
def test_hand_edited_tokenizer(text_run: Path, key: str, value: object) -> None:
    copy = scratch() / "run"
    shutil.copytree(text_run, copy)
    side_files = [path.name for path in (copy / "model").glob("*.json") if path.name != "config.json"]
    for name in side_files:
        path = copy / "model" / name
        document = json.loads(path.read_text(encoding="utf-8"))
        if isinstance(document, dict):
            document[key] = value
            path.write_text(json.dumps(document), encoding="utf-8")
            _rehash(copy / "model", name)
    arguments = ["generate", copy, "--max-new-tokens", "5", "--seed", "0"]
    assert_acceptable(judge(f"generate with {side_files}.{key}={value!r}", arguments, untouched=[copy]))


@settings(max_examples=EXAMPLES * 2)
@given(file_key=st.sampled_from(DETECTOR_SIDE_FILE_KEYS), value=json_values)
def test_hand_edited_detector_and_preprocessor(detector_run: Path, file_key: tuple[str, str], value: object) -> None:
    name, key = file_key
    copy = scratch() / "run"
    shutil.copytree(detector_run, copy)
    candidates = [path for path in copy.rglob(name)]
    for path in candidates:
        document = json.loads(path.read_text(encoding="utf-8"))
        document[key] = value
        path.write_text(json.dumps(document), encoding="utf-8")
        if path.parent.name == "model":
            _rehash(path.parent, name)
    table(10, seed=2).to_csv(copy.parent / "rows.csv", index=False)
    arguments = ["detect", "score", copy, copy.parent / "rows.csv", "-o", copy.parent / "scores.csv"]
    assert_acceptable(judge(f"detect score with {name}.{key}={value!r}", arguments, untouched=[copy]))

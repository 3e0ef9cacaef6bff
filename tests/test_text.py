"""Tokenizers, text data, and the sequence models' exact likelihoods, caches and sampling controls."""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

import genmodels
from genmodels.cli.main import app
from genmodels.data import DataSpec, load_data
from genmodels.data import text as text_module
from genmodels.data.tokenizers import BPETokenizer, CharTokenizer, load_tokenizer
from genmodels.errors import CheckpointError, DataError
from genmodels.models import GPT, CharRNN, CharRNNConfig, GPTConfig
from genmodels.models.autoregressive.token_choice import choose_next_tokens, restrict_logits

UNICODE_TEXT = "naïve café — 東京 🙂👩‍👩‍👧 e\u0301\n\ttabs\r\nand ∑ maths; Ελληνικά, עברית, العربية"


def tiny_models(vocab_size: int = 7, context_length: int = 8) -> list:
    torch.manual_seed(0)
    shape = (context_length + 1,)
    return [
        GPT(GPTConfig(data_shape=shape, vocab_size=vocab_size, num_layers=2, num_heads=2, embedding_dim=16)),
        GPT(
            GPTConfig(
                data_shape=shape,
                vocab_size=vocab_size,
                num_layers=2,
                num_heads=2,
                embedding_dim=16,
                positions="rotary",
                tie_weights=False,
                bias=True,
            )
        ),
        CharRNN(CharRNNConfig(data_shape=shape, vocab_size=vocab_size, embedding_dim=8, hidden_dim=16, num_layers=2)),
    ]


MODEL_IDS = ["gpt-learned", "gpt-rotary", "charrnn"]


# --- tokenizers -----------------------------------------------------------------------------
def test_char_tokenizer_round_trips_unicode_and_maps_unseen_characters_to_unknown(tmp_path):
    tokenizer = CharTokenizer.train([UNICODE_TEXT])
    assert tokenizer.decode(tokenizer.encode(UNICODE_TEXT)) == UNICODE_TEXT
    ids = tokenizer.encode("naïve ☃")
    assert ids[-1] == 0 and tokenizer.decode(ids) == "naïve \ufffd"
    tokenizer.save(tmp_path)
    restored = load_tokenizer(tmp_path)
    assert isinstance(restored, CharTokenizer) and restored.characters == tokenizer.characters


def test_bpe_tokenizer_round_trips_any_unicode_and_saves(tmp_path):
    tokenizer = BPETokenizer.train(["the cat sat on the mat. " * 50, UNICODE_TEXT], vocab_size=300)
    unseen = "zebra 🦓 ñandú ŝ — 漢字 \x00 end"
    for text in (UNICODE_TEXT, unseen, ""):
        assert tokenizer.decode(tokenizer.encode(text)) == text
    assert len(tokenizer.encode("the cat sat on the mat.")) < len("the cat sat on the mat.")  # merges were learned
    tokenizer.save(tmp_path)
    restored = load_tokenizer(tmp_path)
    assert restored.encode(unseen).tolist() == tokenizer.encode(unseen).tolist()


def test_corrupt_tokenizer_file_is_refused(tmp_path):
    (tmp_path / "tokenizer.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(CheckpointError, match="not valid JSON"):
        load_tokenizer(tmp_path)


# --- text data ------------------------------------------------------------------------------
@pytest.fixture
def corpus_file(tmp_path):
    lines = [f"line {i}: the quick brown fox jumps over the lazy dog.\n" for i in range(300)]
    path = tmp_path / "corpus.txt"
    path.write_text("".join(lines) + "only in test: ☃", encoding="utf-8")
    return path


def test_text_splits_are_contiguous_and_the_vocabulary_comes_from_training_text(corpus_file):
    data = load_data(DataSpec(str(corpus_file), context_length=16))
    text = corpus_file.read_text(encoding="utf-8")
    decoded = "".join(data.tokenizer.decode(getattr(data, name).tokens) for name in ("train", "validation", "test"))
    assert decoded == text.replace("☃", "\ufffd")  # the snowman appears only in the test split: unknown
    tenth = round(len(text) * 0.1)
    assert data.info["characters"] == {"train": len(text) - 2 * tenth, "validation": tenth, "test": tenth}
    assert data.data_shape == (17,) and data.info["vocab_size"] == data.tokenizer.vocab_size


def test_training_rows_are_every_window_and_held_out_rows_predict_each_token_once(corpus_file):
    data = load_data(DataSpec(str(corpus_file), context_length=16))
    windows = data.train.tensors()["x"]
    assert len(windows) == len(data.train.tokens) - 16
    rows = windows[torch.tensor([0, 5, len(windows) - 1])]
    assert rows[1].tolist() == data.train.tokens[5:22].astype(np.int64).tolist()
    held_out = data.validation.tensors()["x"]
    targets = held_out[:, 1:].flatten()
    assert targets.tolist() == data.validation.tokens[1 : 1 + len(targets)].astype(np.int64).tolist()


def test_memory_mapped_tokens_equal_in_memory_tokens(corpus_file, tmp_path, monkeypatch):
    monkeypatch.setattr(text_module, "TOKEN_CACHE", tmp_path / "cache")
    in_memory = load_data(DataSpec(str(corpus_file), context_length=16, tokenizer="bpe", vocab_size=300))
    mapped = load_data(DataSpec(str(corpus_file), context_length=16, tokenizer="bpe", vocab_size=300, memory_map=True))
    assert isinstance(mapped.train.tokens, np.memmap)
    for name in ("train", "validation", "test"):
        assert np.array_equal(getattr(mapped, name).tokens, getattr(in_memory, name).tokens)


def test_a_folder_of_text_files_and_bad_text_give_data_or_clear_errors(tmp_path):
    folder = tmp_path / "plays"
    folder.mkdir()
    (folder / "a.txt").write_text("first play " * 200, encoding="utf-8")
    (folder / "b.md").write_text("second play " * 200, encoding="utf-8")
    data = load_data(DataSpec(str(folder), tokenizer="char", context_length=8))
    assert data.info["characters"]["train"] + data.info["characters"]["validation"] + data.info["characters"][
        "test"
    ] == len("first play " * 200) + 1 + len("second play " * 200)
    (tmp_path / "latin1.txt").write_bytes("café".encode("latin-1"))
    with pytest.raises(DataError, match="not UTF-8"):
        load_data(DataSpec(str(tmp_path / "latin1.txt")))
    (tmp_path / "empty.txt").write_text("", encoding="utf-8")
    with pytest.raises(DataError, match="empty"):
        load_data(DataSpec(str(tmp_path / "empty.txt")))


def test_shakespeare_is_built_in():
    data = load_data(DataSpec("shakespeare", context_length=64))
    assert sum(data.info["characters"].values()) == 1_115_394
    assert data.tokenizer.vocab_size == 66  # 65 characters and the unknown token
    assert data.tokenizer.decode(data.train.tokens[:14]) == "First Citizen:"


# --- exact likelihoods and caches -----------------------------------------------------------------
@pytest.mark.parametrize("model", tiny_models(vocab_size=3), ids=MODEL_IDS)
def test_log_probs_sum_to_one_over_every_continuation(model):
    """Chain rule check: over all 3^3 continuations of each first token, probabilities sum to 1."""
    model.eval()
    for first in range(3):
        rows = torch.tensor([[first, *rest] for rest in itertools.product(range(3), repeat=3)])
        with torch.no_grad():
            total = model.log_prob(rows).exp().sum()
        assert torch.allclose(total, torch.tensor(1.0), atol=1e-5)


@pytest.mark.parametrize("model", tiny_models(), ids=MODEL_IDS)
def test_predictions_never_depend_on_later_tokens(model):
    model.eval()
    tokens = torch.randint(0, 7, (2, 8), generator=torch.Generator().manual_seed(1))
    changed = tokens.clone()
    changed[:, 5:] = (changed[:, 5:] + 1) % 7
    with torch.no_grad():
        assert torch.equal(model.logits(tokens)[:, :5], model.logits(changed)[:, :5])
        assert not torch.equal(model.logits(tokens)[:, 5:], model.logits(changed)[:, 5:])


@pytest.mark.parametrize("model", tiny_models(), ids=MODEL_IDS)
def test_cached_steps_give_the_logits_of_a_full_forward_pass(model):
    model.eval()
    tokens = torch.randint(0, 7, (3, 8), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        full = model.logits(tokens)
        logits, state = model.start(tokens[:, :3])
        stepped = [logits]
        for position in range(3, 8):
            logits, state = model.advance(tokens[:, position], state)
            stepped.append(logits)
    assert torch.allclose(torch.stack(stepped, dim=1), full[:, 2:], atol=1e-5)


@pytest.mark.parametrize("model", tiny_models(), ids=MODEL_IDS)
def test_cached_and_uncached_sampling_give_the_same_tokens_beyond_the_context(model):
    context = torch.randint(0, 7, (4, 3), generator=torch.Generator().manual_seed(3))
    runs = []
    for use_cache in (True, False):
        generator = torch.Generator().manual_seed(4)
        with torch.no_grad():
            runs.append(
                torch.stack(
                    list(model.eval().generate_tokens(context, 30, generator=generator, use_cache=use_cache)), dim=1
                )
            )
    assert runs[0].shape == (4, 30) and torch.equal(runs[0], runs[1])  # 30 new tokens > context 8


def test_sequence_models_refuse_bad_tokens():
    model = tiny_models()[0]
    with pytest.raises(ValueError, match="outside the vocabulary"):
        model.log_prob(torch.tensor([[0, 9]]))
    with pytest.raises(ValueError, match="shape"):
        model.log_prob(torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="exceed the context"):
        model.log_prob(torch.zeros(1, 12, dtype=torch.long))
    with pytest.raises(ValueError, match="data_shape"):
        GPT(GPTConfig(data_shape=(1, 28, 28)))


# --- sampling controls ----------------------------------------------------------------------
def test_top_k_and_top_p_keep_exactly_their_sets():
    logits = torch.tensor([[0.5, 0.3, 0.15, 0.05]]).log()
    kept = lambda **options: torch.isfinite(restrict_logits(logits, **options))[0].nonzero().flatten().tolist()  # noqa: E731
    assert kept(top_k=2) == [0, 1]
    assert kept(top_p=0.8) == [0, 1]
    assert kept(top_p=0.81) == [0, 1, 2]
    assert kept(top_p=0.01) == [0]
    assert kept(top_k=3, top_p=0.5) == [0]


def test_sampling_never_leaves_the_allowed_set():
    logits = torch.randn(1, 50, generator=torch.Generator().manual_seed(0)).repeat(4000, 1)
    generator = torch.Generator().manual_seed(1)
    top_k = choose_next_tokens(logits, top_k=5, generator=generator)
    assert set(top_k.tolist()) == set(logits[0].topk(5).indices.tolist())
    allowed = torch.isfinite(restrict_logits(logits[:1], top_p=0.3))[0]
    top_p = choose_next_tokens(logits, temperature=0.7, top_p=0.3, generator=generator)
    assert allowed[top_p].all()
    assert torch.equal(choose_next_tokens(logits[:3], temperature=0), logits[:3].argmax(-1))


@pytest.fixture(scope="module")
def trained_text_run(tmp_path_factory):
    corpus = tmp_path_factory.mktemp("corpus") / "abc.txt"
    corpus.write_text("abcde\n" * 700, encoding="utf-8")  # each character fixes the next
    run = tmp_path_factory.mktemp("runs") / "gpt"
    result = CliRunner().invoke(
        app,
        [
            "train",
            "gpt",
            "--data",
            str(corpus),
            "-o",
            str(run),
            "--max-steps",
            "120",
            "--batch-size",
            "16",
            "--val-every",
            "60",
            "--no-progress",
            "--set",
            "data.context_length=16",
            "--set",
            "model.embedding_dim=32",
            "--set",
            "model.num_layers=2",
            "--set",
            "trainer.lr_schedule=constant",
            "--set",
            "trainer.warmup_steps=0",
        ],
    )
    assert result.exit_code == 0, result.output
    return run


def test_a_trained_gpt_learns_the_text_and_reports_it(trained_text_run):
    report = json.loads((trained_text_run / "report.json").read_text())
    history = (trained_text_run / "history.csv").read_text().splitlines()
    assert report["test"]["text"]["nats_per_token"] < 0.3  # uniform: ln 6 = 1.79; only window starts are uncertain
    assert report["test"]["text"]["perplexity"] == pytest.approx(np.exp(report["test"]["text"]["nats_per_token"]))
    assert len(history) > 3 and (trained_text_run / "samples.txt").is_file()
    model = genmodels.load(trained_text_run)
    assert model.generate("bc", 9, temperature=0) == "bcde\nabcde\n"


def test_generate_stops_streams_and_repeats_under_a_seed(trained_text_run):
    model = genmodels.load(trained_text_run)
    streamed: list[str] = []
    texts = model.generate_batch("ab", 40, num_samples=3, stop=["\n"], seed=5, on_text=streamed.append)
    assert all(text.startswith("ab") and "\n" not in text for text in texts)
    assert "ab" + "".join(streamed) == texts[0]
    assert texts == model.generate_batch("ab", 40, num_samples=3, stop=["\n"], seed=5)


def test_saved_model_restores_its_tokenizer_and_refuses_a_swapped_one(trained_text_run, tmp_path):
    model = genmodels.load(trained_text_run)
    model.save_pretrained(tmp_path / "copy")
    restored = GPT.from_pretrained(tmp_path / "copy")
    assert restored.tokenizer.characters == model.tokenizer.characters
    assert restored.generate("ab", 10, seed=0) == model.generate("ab", 10, seed=0)
    CharTokenizer("xyz").save(tmp_path / "copy")
    with pytest.raises(CheckpointError, match="tokenizer.json"):
        GPT.from_pretrained(tmp_path / "copy")


def test_generate_and_evaluate_commands(trained_text_run):
    runner = CliRunner()
    result = runner.invoke(
        app, ["generate", str(trained_text_run), "--prompt", "cd", "--max-new-tokens", "7", "--temperature", "0"]
    )
    assert result.exit_code == 0, result.output
    assert "cde\nabcde\n" in result.output
    result = runner.invoke(app, ["evaluate", str(trained_text_run)])
    assert result.exit_code == 0, result.output
    assert "bits_per_character" in result.output
    result = runner.invoke(app, ["train", "gpt", "--data", "digits", "--max-steps", "1", "--no-progress"])
    assert result.exit_code != 0 and "models text" in str(result.exception)

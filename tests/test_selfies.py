"""SELFIES as tokens: the symbol tokenizer, corpora, generators that can only write valid molecules, CLI."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import selfies
import torch
from tiny_generators import tiny_char_rnn
from typer.testing import CliRunner

from genmodels.applications.molecules.datasets import load_smiles
from genmodels.applications.molecules.generation import hill_climb, representation_of, sample_smiles, sample_strings
from genmodels.applications.molecules.latent_optimization import optimize_latent
from genmodels.applications.molecules.objectives import Oracle, make_objective
from genmodels.applications.molecules.reinvent import ReinventConfig, reinvent
from genmodels.applications.molecules.smiles import canonical, from_selfies, to_selfies
from genmodels.applications.molecules.voting import vote_molecules
from genmodels.cli.main import app
from genmodels.data import DataSpec, load_data
from genmodels.data.tokenizers import UNKNOWN_CHARACTER, CharTokenizer, SelfiesTokenizer, load_tokenizer
from genmodels.errors import DataError
from genmodels.models import GPT, CharRNN, CharRNNConfig, GPTConfig, SmilesVAE, SmilesVAEConfig
from genmodels.training import Trainer, TrainerConfig

THREE = ["CCO", "c1ccccc1", "CCN"]


def test_tokens_are_whole_symbols_and_round_trip():
    texts = [to_selfies(smiles) for smiles in load_smiles("moses", split="test").smiles[:200]]
    tokenizer = SelfiesTokenizer.train(texts)
    symbols = {symbol for text in texts for symbol in selfies.split_selfies(text)}
    assert set(tokenizer.units) == symbols and tokenizer.vocab_size == len(symbols) + 1
    for text in texts:
        ids = tokenizer.encode(text)
        assert len(ids) == selfies.len_selfies(text) and 0 not in ids
        assert tokenizer.decode(ids) == text


def test_stray_characters_stay_unknown_and_never_become_tokens():
    # a corpus split can cut a symbol in two; its pieces must not become tokens a model could write
    tokenizer = SelfiesTokenizer.train(["[C][Ri", "ng1][N]\n[C].[O]\n"])
    assert tokenizer.units == ["\n", ".", "[C]", "[N]", "[O]"]
    ids = tokenizer.encode("[C][Xe]r\n")
    assert ids.tolist() == [tokenizer.id_of["[C]"], 0, 0, tokenizer.id_of["\n"]]
    assert tokenizer.decode(ids) == f"[C]{UNKNOWN_CHARACTER}{UNKNOWN_CHARACTER}\n" and tokenizer.never_generated == (0,)
    with pytest.raises(ValueError, match="not a single unit of a selfies vocabulary"):
        SelfiesTokenizer(["[C][N]"])
    with pytest.raises(ValueError, match="not a single unit of a char vocabulary"):
        CharTokenizer(["ab"])


def test_saved_loaded_and_extended_with_old_ids_kept(tmp_path):
    tokenizer = SelfiesTokenizer.train(["[C][O]\n"])
    tokenizer.save(tmp_path)
    restored = load_tokenizer(tmp_path)
    assert isinstance(restored, SelfiesTokenizer) and restored.units == tokenizer.units
    extended = tokenizer.extended(["[N][C]\n"])
    assert extended.units[: len(tokenizer.units)] == tokenizer.units and extended.units[-1] == "[N]"


@pytest.fixture(scope="module")
def selfies_corpus(tmp_path_factory):
    corpus = tmp_path_factory.mktemp("selfies") / "three.smi"
    corpus.write_text("".join(f"{to_selfies(smiles)}\n" for smiles in THREE) * 300, encoding="utf-8")
    return corpus


def test_corpus_as_symbol_windows_and_as_line_rows(selfies_corpus):
    data = load_data(DataSpec(str(selfies_corpus), tokenizer="selfies", context_length=16))
    symbols = {"\n", "[C]", "[O]", "[N]", "[=C]", "[Ring1]", "[=Branch1]"}
    assert data.info["tokenizer"] == "selfies" and set(data.tokenizer.units) == symbols
    assert data.tokenizer.decode(data.train.tokens[:17]).split("\n")[1] in {to_selfies(smiles) for smiles in THREE}
    rows = load_data(DataSpec(str(selfies_corpus), tokenizer="selfies", context_length=16, line_rows=True)).train
    assert {data.tokenizer.decode(row).strip("\n") for row in rows.rows} == {to_selfies(smiles) for smiles in THREE}
    with pytest.raises(DataError, match="line break is always a token"):
        load_data(DataSpec(str(selfies_corpus), tokenizer="bpe", vocab_size=300, context_length=16, line_rows=True))


@pytest.fixture(scope="module")
def selfies_generator(selfies_corpus, tmp_path_factory):
    """A CharRNN over SELFIES symbols that has learned the three molecules."""
    spec = DataSpec(str(selfies_corpus), tokenizer="selfies", context_length=24)
    return tiny_char_rnn(spec, tmp_path_factory.mktemp("train"))


def test_generated_symbols_decode_to_the_learned_molecules(selfies_generator):
    assert representation_of(selfies_generator) == "selfies"
    smiles = sample_smiles(selfies_generator, 200, max_length=20, seed=3)
    assert smiles == sample_smiles(selfies_generator, 200, max_length=20, seed=3)
    assert np.mean([molecule in THREE for molecule in smiles]) > 0.9


@pytest.mark.parametrize("family", ["charrnn", "gpt"])
def test_an_untrained_symbol_model_writes_only_decodable_strings(family):
    """Whatever the weights, every line is a sequence of SELFIES symbols, which always decodes."""
    texts = [to_selfies(smiles) for smiles in load_smiles("moses", split="test").smiles[:200]]
    tokenizer = SelfiesTokenizer.train(["\n".join(texts)])  # a corpus: one molecule per line
    torch.manual_seed(0)
    shape = {"data_shape": (64,), "vocab_size": tokenizer.vocab_size}
    model = (CharRNN(CharRNNConfig(**shape, hidden_dim=32, num_layers=1)) if family == "charrnn"
             else GPT(GPTConfig(**shape, num_layers=1, num_heads=2, embedding_dim=32)))  # fmt: skip
    model.tokenizer = tokenizer
    lines = [line for line in sample_strings(model, 300, max_length=60, seed=0) if line]
    assert len(lines) > 100
    decoded = [selfies.decoder(line) for line in lines]  # raises DecoderError on a malformed symbol
    assert np.mean([canonical(smiles) is not None for smiles in decoded]) > 0.9
    assert all(from_selfies(line) == canonical(smiles) for line, smiles in zip(lines, decoded, strict=True) if smiles)


def test_hill_climbing_tunes_a_selfies_generator_on_smiles_scores(selfies_generator):
    score = make_objective("weight")
    model = copy.deepcopy(selfies_generator)
    before = np.mean([score(smiles) or 0 for smiles in sample_smiles(model, 200, max_length=20, seed=1)])
    result = hill_climb(model, score, rounds=2, samples_per_round=100, keep=1, steps_per_round=40)
    after = np.mean([score(smiles) or 0 for smiles in sample_smiles(model, 200, max_length=20, seed=1)])
    assert result.top[0][1] >= score("c1ccccc1") and after > before  # benzene or a valid heavier variant


def test_reinvent_tunes_a_selfies_generator_on_smiles_scores(selfies_generator):
    oracle = Oracle(lambda smiles: 1.0 if smiles == "c1ccccc1" else 0.0)
    config = ReinventConfig(steps=6, batch_size=32, sigma=20.0, max_length=20, bucket_size=0, patience=None)
    result = reinvent(copy.deepcopy(selfies_generator), oracle, config)
    assert oracle.scores and all(canonical(smiles) == smiles for smiles in oracle.scores)  # SMILES, never SELFIES
    assert result.top[0] == ("c1ccccc1", 1.0) and len(result.history) == 6


def test_a_selfies_vae_samples_and_designs_in_smiles(selfies_corpus, tmp_path):
    data = load_data(DataSpec(str(selfies_corpus), tokenizer="selfies", line_rows=True, context_length=14))
    torch.manual_seed(0)
    sizes = {"embedding_dim": 16, "encoder_dim": 32, "decoder_dim": 64, "decoder_layers": 1, "latent_dim": 4}
    model = SmilesVAE(SmilesVAEConfig(data.data_shape, data.tokenizer.vocab_size, kl_warmup_steps=100, **sizes))
    model.tokenizer = data.tokenizer
    config = TrainerConfig(max_steps=300, batch_size=32, learning_rate=1e-2, progress_bar=False, tensorboard=False)
    Trainer(config, tmp_path).fit(model, data.train.tensors())
    model.eval()
    assert np.mean([smiles in THREE for smiles in sample_smiles(model, 100, seed=0)]) > 0.8
    score = make_objective("weight")
    result = optimize_latent(model, score, THREE * 4, starts=3, steps=10, step_size=0.5, decode_every=5)
    start = result.history[0]  # the known molecules' codes (read as SELFIES) decode to those molecules
    assert start["validity"] == 1.0 and start["novelty"] == 0.0
    assert all(canonical(smiles) == smiles and value == score(smiles) for smiles, value in result.top)


def test_molecule_voting_refuses_selfies_members(selfies_generator):
    with pytest.raises(ValueError, match="members must write SMILES"):
        vote_molecules([selfies_generator], n=3)


@pytest.mark.slow  # a whole prepare -> evaluate (or train -> generate) workflow: half a minute and more
def test_prepare_train_and_generate_with_selfies_tokens(tmp_path):
    runner = CliRunner()
    (tmp_path / "in.smi").write_text("\n".join(THREE * 100) + "\n", encoding="utf-8")
    corpus, run, output = tmp_path / "c.smi", tmp_path / "run", tmp_path / "gen.smi"
    steps = ["prepare", str(tmp_path / "in.smi"), "-o", str(corpus), "--representation", "selfies"]
    assert runner.invoke(app, ["molecules", *steps]).exit_code == 0
    result = runner.invoke(app, ["train", "charrnn", "--data", str(corpus), "-o", str(run), "--set",
                                 "data.tokenizer=selfies", "--set", "data.context_length=24", "--max-steps", "150",
                                 "--batch-size", "32", "--lr", "1e-2", "--no-progress"])  # fmt: skip
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["molecules", "generate", str(run), "-n", "50", "-o", str(output), "--max-length",
                                 "20"])  # fmt: skip
    assert result.exit_code == 0, result.output
    written = output.read_text().split()
    assert len(written) == 50 and np.mean([molecule in THREE for molecule in written]) > 0.8  # SMILES, decoded

"""The SMILES VAE: one row per line, padding that never counts, encode/decode, save/load, latent-space design."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import genmodels
from genmodels.applications.molecules.generation import sample_strings
from genmodels.applications.molecules.latent_optimization import fit_property_predictor, optimize_latent
from genmodels.applications.molecules.objectives import make_objective
from genmodels.data import DataSpec, load_data
from genmodels.errors import DataError
from genmodels.models import SmilesVAE, SmilesVAEConfig
from genmodels.runs import make_spec, train_run
from genmodels.training import Trainer, TrainerConfig

MOLECULES = ["CCO", "c1ccccc1", "CCN", "CC(=O)O", "c1ccncc1", "CCOC(=O)C"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    path = tmp_path_factory.mktemp("lines") / "molecules.smi"
    path.write_text("\n".join(MOLECULES * 100) + "\n", encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def trained(corpus, tmp_path_factory):
    """A small SMILES VAE that has learned six molecules, and its data."""
    data = load_data(DataSpec(str(corpus), line_rows=True, context_length=14))
    torch.manual_seed(0)
    sizes = {"embedding_dim": 16, "encoder_dim": 32, "decoder_dim": 64, "decoder_layers": 1, "latent_dim": 4}
    config = SmilesVAEConfig(data.data_shape, data.tokenizer.vocab_size, kl_warmup_steps=100, **sizes)
    model = SmilesVAE(config)
    model.tokenizer = data.tokenizer
    test_rows = data.test.tensors()["x"]
    with torch.no_grad():
        untrained = float(-model.elbo(test_rows).mean())
    trainer = TrainerConfig(max_steps=300, batch_size=32, learning_rate=1e-2, progress_bar=False, tensorboard=False)
    Trainer(trainer, tmp_path_factory.mktemp("train")).fit(model, data.train.tensors())
    return model.eval(), data, untrained


def test_line_rows_frame_each_line_and_drop_long_ones(tmp_path):
    path = tmp_path / "mixed.smi"
    path.write_text("CCO\n\nc1ccccc1\nCCCCCCCCCCCCCCCCCCCCCCCCCC\nCCN\n" * 20, encoding="utf-8")
    data = load_data(DataSpec(str(path), line_rows=True, context_length=12, validation_fraction=0, test_fraction=0))
    rows = data.train.tensors()["x"]
    line_break = int(data.tokenizer.encode("\n")[0])
    assert rows.shape == (60, 13) and torch.all(rows[:, 0] == line_break)
    texts = [data.tokenizer.decode(row[1:]).split("\n")[0] for row in rows.numpy()]
    assert texts == ["CCO", "c1ccccc1", "CCN"] * 20
    assert data.info["lines_too_long"]["train"] == 20 and data.info["sizes"]["train"] == 60


def test_models_refuse_the_other_text_layout(corpus, tmp_path):
    with pytest.raises(DataError, match="line_rows true"):
        train_run(make_spec("smiles-vae", {"name": str(corpus), "line_rows": False}, trainer={"max_steps": 1}),
                  tmp_path / "vae")  # fmt: skip
    with pytest.raises(DataError, match="context windows"):
        train_run(make_spec("charrnn", {"name": str(corpus), "line_rows": True}, trainer={"max_steps": 1}),
                  tmp_path / "rnn")  # fmt: skip


def test_training_lowers_the_loss_and_padding_never_counts(trained):
    model, data, untrained = trained
    rows = data.test.tensors()["x"][:50]
    torch.manual_seed(1)
    with torch.no_grad():
        before = model.elbo(rows)
    padded = rows.clone()
    closing = (padded[:, 1:] == model.start_token()).float().argmax(dim=1) + 1
    for index, stop in enumerate(closing.tolist()):
        padded[index, stop + 1 :] = 3  # any token after the closing break
    torch.manual_seed(1)
    with torch.no_grad():
        assert torch.allclose(model.elbo(padded), before)
    assert float(-before.mean()) < min(15.0, untrained / 2), "six short molecules should cost few nats once learned"


def test_strings_encode_decode_and_sample(trained):
    model, _, _ = trained
    rows = model.strings_to_rows(MOLECULES)
    assert model.rows_to_strings(rows) == MOLECULES
    with pytest.raises(ValueError, match="at most 13 tokens"):
        model.strings_to_rows(["C" * 20])
    decoded = model.decode_strings(model.encode_strings(MOLECULES))
    assert np.mean([a == b for a, b in zip(decoded, MOLECULES, strict=True)]) >= 0.8
    lines = sample_strings(model, 100, seed=5)
    assert lines == sample_strings(model, 100, seed=5) and np.mean([line in MOLECULES for line in lines]) > 0.8
    unfinished = model.rows_to_strings(torch.full((1, model.config.data_shape[0]), 2))
    assert unfinished == [""]


def test_importance_weighted_bound_tightens_the_elbo(trained):
    model, data, _ = trained
    rows = data.test.tensors()["x"][:100]
    torch.manual_seed(0)
    with torch.no_grad():
        elbo = float(model.elbo(rows).mean())
    log_prob = float(model.log_prob(rows).mean())
    assert log_prob >= elbo - 1e-4 and log_prob < 0
    never_closed = torch.full((2, model.config.data_shape[0]), 2)
    never_closed[:, 0] = model.start_token()
    with pytest.raises(ValueError, match="end its sequence"):
        model.log_prob(never_closed)


def test_save_and_load_round_trip(trained, tmp_path):
    model, data, _ = trained
    model.save_pretrained(tmp_path / "vae")
    loaded = genmodels.load(tmp_path / "vae")
    assert isinstance(loaded, SmilesVAE) and loaded.tokenizer.to_json() == model.tokenizer.to_json()
    assert sample_strings(loaded, 20, seed=2) == sample_strings(model, 20, seed=2)


def test_property_predictor_fits_a_linear_property():
    generator = torch.Generator().manual_seed(0)
    codes = torch.randn(1000, 4, generator=generator)
    values = (codes @ torch.tensor([1.0, -2.0, 0.5, 0.0])).numpy()
    _, r2 = fit_property_predictor(codes, values, steps=500)
    assert r2 > 0.95


def test_latent_optimisation_reports_novel_molecules_scored_by_rdkit(trained):
    model, _, _ = trained
    known = MOLECULES[:4] * 5
    score = make_objective("weight")
    result = optimize_latent(model, score, known, starts=4, steps=20, step_size=0.5, decode_every=5)
    assert [row["step"] for row in result.history] == [0, 5, 10, 15, 20]
    assert all(smiles not in known for smiles, _ in result.top)
    assert all(value == score(smiles) for smiles, value in result.top)
    assert [value for _, value in result.top] == sorted((value for _, value in result.top), reverse=True)
    assert result.summary["known_scored"] == 20
    with pytest.raises(ValueError, match="at least 10"):
        optimize_latent(model, score, MOLECULES[:3], starts=2, steps=1)

"""Molecules: hand-computed MOSES metrics, RDKit-exact properties, SELFIES, data reports, generation, CLI."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch
from rdkit import Chem, DataStructs
from rdkit.Chem import QED, Crippen, Descriptors, rdFingerprintGenerator
from rdkit.Contrib.SA_Score import sascorer
from tiny_generators import tiny_char_rnn
from typer.testing import CliRunner

from genmodels.applications.molecules.datasets import load_smiles
from genmodels.applications.molecules.features import passes_filters
from genmodels.applications.molecules.generation import hill_climb, sample_strings
from genmodels.applications.molecules.metrics import moses_metrics
from genmodels.applications.molecules.objectives import make_objective
from genmodels.applications.molecules.smiles import canonical, from_selfies, randomize_smiles, to_selfies
from genmodels.applications.molecules.voting import line_log_likelihood, vote_molecules
from genmodels.cli.main import app
from genmodels.data import DataSpec, load_data
from genmodels.errors import DataError

DRUGS = ["CC(=O)Oc1ccccc1C(=O)O", "CN1C=NC2=C1C(=O)N(C(=O)N2C)C", "CC(C)Cc1ccc(cc1)C(C)C(=O)O", "c1ccccc1"]


def test_validity_uniqueness_and_novelty_match_hand_counts():
    metrics = moses_metrics(
        ["CCO", "OCC", "CCO", "CCN", "not a molecule", "C1CC"], train=["OCC"], fcd=False, unique_at=(4, 5)
    )
    assert metrics["valid"] == pytest.approx(4 / 6)
    assert metrics["unique@4"] == pytest.approx(2 / 4)  # CCO three times (two spellings) and CCN
    assert metrics["unique@5"] is None  # five valid molecules are needed, four were given
    assert metrics["Novelty"] == pytest.approx(1 / 2)  # of the distinct {CCO, CCN}, CCO is in train


def test_internal_diversity_and_similarities_match_rdkit():
    assert moses_metrics(["c1ccccc1"] * 5, fcd=False)["IntDiv"] == pytest.approx(0.0)
    generator = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=1024)
    first, second = (generator.GetFingerprint(Chem.MolFromSmiles(smiles)) for smiles in DRUGS[:2])
    t = DataStructs.TanimotoSimilarity(first, second)
    metrics = moses_metrics(DRUGS[:2], test=DRUGS[:2], fcd=False)
    assert metrics["IntDiv"] == pytest.approx(1 - (1 + t) / 2)  # pairs include each molecule with itself
    assert metrics["IntDiv2"] == pytest.approx(1 - np.sqrt((1 + t**2) / 2))
    assert metrics["SNN/Test"] == pytest.approx(1.0) and metrics["Frag/Test"] == pytest.approx(1.0)


def test_filters_reject_charges_odd_atoms_and_large_rings():
    assert passes_filters(Chem.MolFromSmiles("CC(=O)Oc1ccccc1C(=O)O"))
    assert not passes_filters(Chem.MolFromSmiles("C[N+](C)(C)C"))
    assert not passes_filters(Chem.MolFromSmiles("CC[Si](C)C"))
    assert not passes_filters(Chem.MolFromSmiles("C1CCCCCCCC1"))


def test_objectives_are_rdkit_values():
    molecule = Chem.MolFromSmiles(DRUGS[0])
    assert make_objective("qed")(DRUGS[0]) == QED.qed(molecule)
    assert make_objective("logp")(DRUGS[0]) == Crippen.MolLogP(molecule)
    assert make_objective("sa")(DRUGS[0]) == sascorer.calculateScore(molecule)
    assert make_objective("weight")(DRUGS[0]) == Descriptors.MolWt(molecule)
    assert make_objective("rdkit.Chem.Descriptors:NumHDonors")("CCO") == 1.0
    assert make_objective("qed")("not a molecule") is None
    with pytest.raises(ValueError, match="unknown objective"):
        make_objective("potency")


def test_selfies_and_randomised_smiles_round_trip():
    rng = np.random.default_rng(0)
    for smiles in DRUGS:
        assert from_selfies(to_selfies(smiles)) == canonical(smiles)
        assert canonical(randomize_smiles(smiles, rng)) == canonical(smiles)
    assert randomize_smiles(DRUGS[0], np.random.default_rng(1)) == randomize_smiles(DRUGS[0], np.random.default_rng(1))
    with pytest.raises(ValueError, match="not a valid SMILES"):
        to_selfies("C1CC")


def test_invalid_rows_are_counted_skipped_and_shown(tmp_path):
    (tmp_path / "set.smi").write_text("CCO\nC1CC\n\nc1ccccc1 benzene\nxyz\n", encoding="utf-8")
    molecules = load_smiles(tmp_path / "set.smi")
    assert molecules.smiles == ["CCO", "c1ccccc1"] and molecules.invalid == 3
    assert molecules.report["invalid_examples"] == [(2, "C1CC"), (3, ""), (5, "xyz")]
    (tmp_path / "set.csv").write_text("name,smi\na,CCO\n", encoding="utf-8")
    with pytest.raises(DataError, match="no column 'SMILES'"):
        load_smiles(tmp_path / "set.csv")
    assert load_smiles(tmp_path / "set.csv", column="smi").smiles == ["CCO"]
    (tmp_path / "bad.smi").write_text("xyz\n", encoding="utf-8")
    with pytest.raises(DataError, match="none of its 1 rows"):
        load_smiles(tmp_path / "bad.smi")


def test_moses_ships_as_molecule_sets_and_as_a_text_corpus():
    assert len(load_smiles("moses", split="test").smiles) == 5000
    corpus = load_data(DataSpec("moses", context_length=64))
    assert corpus.tokenizer.decode(corpus.train.tokens[:40]).count("\n") >= 1


@pytest.fixture(scope="module")
def tiny_generator(tmp_path_factory):
    """A CharRNN that has learned a three-molecule corpus."""
    corpus = tmp_path_factory.mktemp("mols") / "three.smi"
    corpus.write_text("CCO\nc1ccccc1\nCCN\n" * 300, encoding="utf-8")
    return tiny_char_rnn(DataSpec(str(corpus), context_length=24), tmp_path_factory.mktemp("train"))


def test_generation_is_seeded_and_yields_the_learned_molecules(tiny_generator):
    lines = sample_strings(tiny_generator, 200, max_length=20, seed=3)
    assert len(lines) == 200 and lines == sample_strings(tiny_generator, 200, max_length=20, seed=3)
    assert np.mean([line in {"CCO", "c1ccccc1", "CCN"} for line in lines]) > 0.9


def test_hill_climbing_moves_towards_the_objective(tiny_generator):
    score = make_objective("weight")
    model = copy.deepcopy(tiny_generator)  # hill-climbing tunes in place; the fixture stays as trained
    before = np.mean([score(line) or 0 for line in sample_strings(model, 200, max_length=20, seed=1)])
    result = hill_climb(model, score, rounds=2, samples_per_round=100, keep=1, steps_per_round=40)
    after = np.mean([score(line) or 0 for line in sample_strings(model, 200, max_length=20, seed=1)])
    assert result.top[0][0] == "c1ccccc1" and after > before  # benzene is the heaviest of the three


@pytest.mark.slow  # a whole prepare -> evaluate (or train -> generate) workflow: half a minute and more
def test_prepare_and_evaluate_commands(tmp_path):
    (tmp_path / "in.csv").write_text("SMILES\nCCO\nbad\nc1ccccc1\n", encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(app, ["molecules", "prepare", str(tmp_path / "in.csv"), "-o", str(tmp_path / "c.smi"),
                                 "--representation", "selfies"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "2 valid, 1 invalid" in result.output
    assert (tmp_path / "c.smi").read_text().split() == [to_selfies("CCO"), to_selfies("c1ccccc1")]
    (tmp_path / "gen.smi").write_text("\n".join(DRUGS + ["bad"]) + "\n", encoding="utf-8")
    result = runner.invoke(app, ["molecules", "evaluate", str(tmp_path / "gen.smi"), "--reference", "moses",
                                 "--no-fcd", "--n-jobs", "1"])  # fmt: skip
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "gen.metrics.json").read_text())
    assert record["metrics"]["valid"] == pytest.approx(0.8) and "Scaf/TestSF" in record["metrics"]


def test_frechet_chemnet_distance_separates_sets():
    from genmodels.applications.molecules.metrics import chemnet_statistics, frechet_chemnet_distance

    test = load_smiles("moses", split="test").smiles
    same = frechet_chemnet_distance(test[:100], test[:100])
    other_half = frechet_chemnet_distance(test[:100], test[100:200])
    small_rings = frechet_chemnet_distance(test[:100], ["C1CC1" + "C" * (i % 7) for i in range(100)])
    assert abs(same) < 1e-3 and same < other_half < small_rings
    assert frechet_chemnet_distance(chemnet_statistics(test[:100]), test[100:200]) == pytest.approx(other_half)


def test_line_likelihood_is_the_exact_per_token_log_probability(tiny_generator):
    values = line_log_likelihood(tiny_generator, ["CCO", "c1ccncc1", "C" * 40])
    tokens = torch.from_numpy(tiny_generator.tokenizer.encode("\nCCO\n").astype(np.int64))[None]
    with torch.no_grad():
        expected = tiny_generator.token_log_probs(tokens).mean().item()
    assert values[0] == pytest.approx(expected, abs=1e-5)
    assert values[0] > values[1] > -np.inf


def test_voting_keeps_distinct_valid_molecules(tiny_generator):
    result = vote_molecules([tiny_generator, tiny_generator], n=3, candidates=4, known={"CCO"}, max_length=20)
    assert sorted(result.smiles) == ["CCN", "CCO", "c1ccccc1"], "the three learned molecules, each once"
    assert set(result.sources) <= {0, 1} and result.proposed == 24
    assert result.voters == ["validity", "novelty", "filters", "likelihood:0", "likelihood:1"]


def test_vote_command_writes_molecules_and_their_sources(tiny_generator, tmp_path):
    tiny_generator.save_pretrained(tmp_path / "a")
    tiny_generator.save_pretrained(tmp_path / "b")
    output = tmp_path / "voted.smi"
    result = CliRunner().invoke(app, ["molecules", "vote", str(tmp_path / "a"), str(tmp_path / "b"), "-n", "3",
                                      "-o", str(output), "--max-length", "20"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert sorted(output.read_text().split()) == ["CCN", "CCO", "c1ccccc1"]
    assert output.with_suffix(".csv").read_text().startswith("smiles,source")


def test_generate_command_with_the_syntax_mask(tiny_generator, tmp_path):
    tiny_generator.save_pretrained(tmp_path / "model")
    output = tmp_path / "gen.smi"
    result = CliRunner().invoke(app, ["molecules", "generate", str(tmp_path / "model"), "-n", "50", "-o", str(output),
                                      "--max-length", "20", "--syntax-mask"])  # fmt: skip
    assert result.exit_code == 0 and "50 of 50 valid" in result.output, result.output
    assert set(output.read_text().split()) <= {"CCN", "CCO", "c1ccccc1"}

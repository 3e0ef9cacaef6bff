"""Goal-directed design: objective specs, the budgeted oracle, PMO's AUC, REINVENT, and `molecules optimize`."""

from __future__ import annotations

import copy
import dataclasses
import json
import math

import numpy as np
import pandas as pd
import pytest
from rdkit import Chem
from rdkit.Chem import QED, Descriptors
from tiny_generators import tiny_char_rnn
from typer.testing import CliRunner

from genmodels.applications.molecules.generation import sample_strings
from genmodels.applications.molecules.objectives import Oracle, make_objective, top_auc
from genmodels.applications.molecules.reinvent import ReinventConfig, ScaffoldFilter, reinvent
from genmodels.cli.main import app, one_line
from genmodels.data import DataSpec
from genmodels.errors import ConfigError, GenmodelsError

BENZENE = "c1ccccc1"


@pytest.fixture(scope="module")
def tiny_prior(tmp_path_factory):
    """A CharRNN that writes ethanol, benzene and ethylamine, about a third each."""
    corpus = tmp_path_factory.mktemp("mols") / "three.smi"
    corpus.write_text(f"CCO\n{BENZENE}\nCCN\n" * 300, encoding="utf-8")
    return tiny_char_rnn(DataSpec(str(corpus), context_length=24), tmp_path_factory.mktemp("train"))


def is_benzene(smiles: str) -> float:
    return 1.0 if smiles == BENZENE else 0.0


def test_oracle_counts_each_distinct_molecule_once_and_stops_at_the_budget():
    oracle = Oracle(make_objective("qed"), budget=3)
    values = oracle.score_all(["CCO", "OCC", BENZENE, "not a molecule", "CCN", "CCCC", "C(C)O"])
    qed = {smiles: QED.qed(Chem.MolFromSmiles(smiles)) for smiles in ("CCO", BENZENE, "CCN")}
    assert values == [qed["CCO"], qed["CCO"], qed[BENZENE], None, qed["CCN"], None, qed["CCO"]]
    assert oracle.calls == 3 and oracle.exhausted and list(oracle.scores) == ["CCO", BENZENE, "CCN"]
    with pytest.raises(ConfigError, match="--oracle-budget must be at least 1"):
        Oracle(make_objective("qed"), budget=0)


def test_an_objective_that_raises_or_returns_nan_scores_zero_and_is_counted():
    def flaky(smiles: str) -> float:
        if "N" in smiles:
            raise RuntimeError("docking failed")
        return math.nan if smiles == BENZENE else 0.5

    oracle = Oracle(flaky)
    assert oracle.score_all(["CCO", "CCN", BENZENE, "CCN"]) == [0.5, 0.0, 0.0, 0.0]
    assert oracle.calls == 3
    assert oracle.failures == {"CCN": "raised RuntimeError: docking failed", BENZENE: "returned NaN"}


def test_objective_specs_combine_properties_and_name_what_is_unknown():
    molecule = Chem.MolFromSmiles("CC(=O)Oc1ccccc1C(=O)O")
    combined = make_objective("0.5*qed + 0.01*weight")("CC(=O)Oc1ccccc1C(=O)O")
    assert combined == pytest.approx(0.5 * QED.qed(molecule) + 0.01 * Descriptors.MolWt(molecule))
    assert make_objective("qed+qed")("CCO") == pytest.approx(2 * QED.qed(Chem.MolFromSmiles("CCO")))
    with pytest.raises(ConfigError, match="unknown objective 'potency'"):
        make_objective("0.5*qed+potency")
    with pytest.raises(ConfigError, match="not WEIGHT\\*NAME"):
        make_objective("0.5*qed+")
    with pytest.raises(ConfigError, match="unknown GuacaMol objective 'osimertinib'"):
        make_objective("guacamol:osimertinib")


def test_guacamol_objectives_by_name_are_guacamols_own_scores():
    from genmodels.applications.molecules.guacamol_tasks import guacamol_benchmark

    smiles = "COc1cc(N(C)CCN(C)C)c(NC(=O)C=C)cc1Nc1nccc(-c2cn(C)c3ccccc23)n1"  # osimertinib
    expected = guacamol_benchmark("osimertinib_mpo").objective.score(smiles)
    assert make_objective("guacamol:osimertinib_mpo")(smiles) == expected and 0 < expected < 1
    assert make_objective("guacamol:qed")("CCO") == pytest.approx(QED.qed(Chem.MolFromSmiles("CCO")))
    assert make_objective("guacamol:qed")("not a molecule") is None


def test_top_auc_follows_the_pmo_rule_by_hand():
    # top-1 after 2 calls 0.4, after 4 calls 0.8, after all 5 calls 0.8, then flat to the budget of 10
    area = 2 * (0.4 + 0) / 2 + 2 * (0.8 + 0.4) / 2 + 1 * (0.8 + 0.8) / 2 + 5 * 0.8
    assert top_auc([0.2, 0.4, 0.1, 0.8, 0.5], budget=10, top=1, every=2) == pytest.approx(area / 10)
    assert top_auc([1.0] * 300, budget=300, top=10, every=100) == pytest.approx((50 + 200) / 300)


def test_scaffold_filter_stops_rewarding_a_full_bucket():
    scaffold_filter = ScaffoldFilter(bucket_size=2, min_score=0.4)
    assert scaffold_filter("Cc1ccccc1", 0.1) == 0.1  # below min_score: rewarded, bucket not filled
    assert [scaffold_filter(smiles, 0.9) for smiles in ("Cc1ccccc1", "CCc1ccccc1", "CCCc1ccccc1")] == [0.9, 0.9, 0.0]
    assert scaffold_filter("Cc1ccccc1", 0.9) == 0.9  # already in the bucket
    assert scaffold_filter("C1CCCCC1C", 0.9) == 0.9  # another scaffold


def test_reinvent_raises_the_objective_of_a_tiny_prior_within_a_few_steps(tiny_prior):
    policy = copy.deepcopy(tiny_prior)
    before = np.mean([line == BENZENE for line in sample_strings(policy, 300, max_length=20, seed=1)])
    oracle = Oracle(is_benzene, budget=50)
    config = ReinventConfig(steps=10, batch_size=32, sigma=20.0, max_length=20, bucket_size=0, patience=None)
    result = reinvent(policy, oracle, config, seed=0)
    after = np.mean([line == BENZENE for line in sample_strings(policy, 300, max_length=20, seed=1)])
    assert result.top[0] == (BENZENE, 1.0) and len(result.history) == 10
    assert after > before + 0.2, (before, after)
    assert oracle.calls == result.summary["calls"] <= 50
    prior_lines = sample_strings(tiny_prior, 300, max_length=20, seed=1)  # the prior itself is left as it was
    assert np.mean([line == BENZENE for line in prior_lines]) == before
    # three molecules are all this prior writes: with patience, the run ends once they stop changing the best
    stalled = reinvent(copy.deepcopy(tiny_prior), Oracle(is_benzene), dataclasses.replace(config, patience=2))
    assert len(stalled.history) < 10 and stalled.summary["calls"] <= 4


def test_optimize_command_runs_reinvent_and_writes_every_output(tiny_prior, tmp_path):
    tiny_prior.save_pretrained(tmp_path / "prior")
    (tmp_path / "known.smi").write_text("CCO\nCCN\n", encoding="utf-8")
    command = ["molecules", "optimize", str(tmp_path / "prior"), "--objective", "test_molecule_design:benzene",
               "--method", "reinvent", "--steps", "3", "--batch-size", "16", "--oracle-budget", "2",
               "--known", str(tmp_path / "known.smi"), "-o", str(tmp_path / "design")]  # fmt: skip
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "design" / "history.json").read_text())
    assert record["method"] == "reinvent" and record["oracle_calls"] == 2 and record["failures"] == 0
    top = pd.read_csv(tmp_path / "design" / "top.csv")
    curve = pd.read_csv(tmp_path / "design" / "curve.csv")
    assert len(top) == 2 and set(top.columns) >= {"smiles", "objective", "novel"}
    assert curve["calls"].tolist() == [2] and curve["top1_mean"].iloc[0] == top["objective"].max()
    assert all((tmp_path / "design" / name).stat().st_size > 0 for name in ("top.png", "curve.png"))
    assert (tmp_path / "design" / "model" / "model.safetensors").is_file()


@pytest.mark.parametrize(
    ("options", "message"),
    [(["--objective", "potency"], "unknown objective 'potency'"),
     (["--objective", "qed", "--oracle-budget", "0"], "--oracle-budget must be at least 1"),
     (["--objective", "qed", "--method", "annealing"], "--method must be one of")],
)  # fmt: skip
def test_optimize_refuses_bad_options_in_one_line_and_writes_nothing(tmp_path, options, message):
    result = CliRunner().invoke(
        app, ["molecules", "optimize", str(tmp_path / "none"), *options, "-o", str(tmp_path / "o")]
    )
    # a genmodels error reaches the console entry point, which prints one_line(error); typer prints its own
    assert result.exit_code != 0 and isinstance(result.exception, (GenmodelsError, SystemExit))
    shown = one_line(result.exception) if isinstance(result.exception, GenmodelsError) else result.output
    assert message in " ".join(shown.split()) and not (tmp_path / "o").exists()


def benzene(molecule: Chem.Mol) -> float:
    """A user objective as ``module:function`` receives it: an RDKit molecule."""
    return 1.0 if Chem.MolToSmiles(molecule) == BENZENE else 0.0

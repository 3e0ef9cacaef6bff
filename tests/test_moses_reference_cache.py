"""Reference statistics computed once and cached; exact blocked SNN and IntDiv; the ``molecules stats`` command."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from rdkit import Chem, DataStructs
from rdkit.Chem import rdFingerprintGenerator
from typer.testing import CliRunner

from genmodels.applications.molecules import reference_statistics as cache
from genmodels.applications.molecules.metrics import moses_metrics
from genmodels.applications.molecules.similarity import internal_diversities, nearest_neighbour_similarity
from genmodels.cli.main import app
from genmodels.errors import DataError

REFERENCE = ["CC(=O)Oc1ccccc1C(=O)O", "CN1C=NC2=C1C(=O)N(C(=O)N2C)C", "CC(C)Cc1ccc(cc1)C(C)C(=O)O", "c1ccccc1",
             "CCOC(=O)c1ccc(N)cc1", "O=C(O)c1ccccc1O", "CCN(CC)CC", "c1ccc2ccccc2c1", "not a molecule"]  # fmt: skip
GENERATED = ["CCO", "c1ccccc1O", "CC(=O)Oc1ccccc1C(=O)O", "CCN(CC)CC", "C1CC((", "c1ccc2ccccc2c1N"]


def rdkit_fingerprints(smiles: list[str]) -> list:
    generator = rdFingerprintGenerator.GetMorganGenerator(radius=2, fpSize=1024)
    return [generator.GetFingerprint(Chem.MolFromSmiles(text)) for text in smiles]


def test_blocked_int8_similarities_equal_rdkit_tanimoto_including_padding_and_empty_fingerprints():
    rng = np.random.default_rng(0)
    reference = np.packbits(rng.random((37, 1024)) < 0.04, axis=1)
    generated = np.packbits(rng.random((21, 1024)) < 0.04, axis=1)
    generated[3] = 0  # an empty fingerprint: similarity 1 to an empty one, 0 to the others (as MOSES has it)
    reference[5] = 0

    def bit_vectors(packed: np.ndarray) -> list:
        return [DataStructs.CreateFromBitString("".join(map(str, np.unpackbits(row)))) for row in packed]

    ref_vectors, gen_vectors = bit_vectors(reference), bit_vectors(generated)
    table = np.array([DataStructs.BulkTanimotoSimilarity(vector, ref_vectors) for vector in gen_vectors])
    table[3, 5] = 1.0  # RDKit says 0 for two empty fingerprints
    assert nearest_neighbour_similarity(reference, generated, block=16) == pytest.approx(table.max(1).mean(), abs=1e-7)
    self_table = np.array([DataStructs.BulkTanimotoSimilarity(vector, gen_vectors) for vector in gen_vectors])
    self_table[3, 3] = 1.0
    expected = [1 - self_table.mean(1).mean(), 1 - np.sqrt((self_table**2).mean(1)).mean()]
    assert internal_diversities(generated, (1, 2), block=8) == pytest.approx(expected, abs=1e-7)


def test_statistics_are_cached_reused_and_equal_to_a_fresh_computation(tmp_path):
    source = tmp_path / "reference.smi"
    source.write_text("\n".join(REFERENCE) + "\n")
    first = cache.reference_statistics(str(source), cache_dir=tmp_path / "cache")
    folders = list((tmp_path / "cache" / "molecule-references").iterdir())
    assert len(folders) == 1 and (folders[0] / "manifest.json").is_file()
    assert len(first.canonical) == 8 and first.fingerprints.shape == (8, 128) and first.chemnet_mean.shape == (512,)
    again = cache.reference_statistics(str(source), cache_dir=tmp_path / "cache")
    assert again.canonical == first.canonical and again.fragments == first.fragments
    assert again.scaffolds == first.scaffolds and np.array_equal(again.fingerprints, first.fingerprints)
    assert np.array_equal(again.chemnet_cov, first.chemnet_cov)
    assert all(np.array_equal(again.properties[name], first.properties[name]) for name in first.properties)
    from_cache = moses_metrics(GENERATED, test=again, unique_at=(3,), fcd=False)
    from_list = moses_metrics(GENERATED, test=REFERENCE, unique_at=(3,), fcd=False)
    assert from_cache == pytest.approx(from_list)


def test_a_corrupt_or_stale_cache_is_rebuilt_with_a_warning_never_trusted(tmp_path):
    source = tmp_path / "reference.smi"
    source.write_text("\n".join(REFERENCE[:4]) + "\n")
    first = cache.reference_statistics(str(source), cache_dir=tmp_path, full=False)
    (folder,) = (tmp_path / "molecule-references").iterdir()
    (folder / "counts.json").write_text('{"fragments": {"C": 999}, "scaffolds": {}}\n')
    with pytest.warns(UserWarning, match=r"counts.json does not match its recorded hash\); rebuilding"):
        rebuilt = cache.reference_statistics(str(source), cache_dir=tmp_path, full=False)
    assert rebuilt.canonical == first.canonical
    manifest = json.loads((folder / "manifest.json").read_text())
    (folder / "manifest.json").write_text(json.dumps({**manifest, "versions": {"rdkit": "2019.03.1"}}))
    with pytest.warns(UserWarning, match="other library versions"):
        cache.reference_statistics(str(source), cache_dir=tmp_path, full=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cache.reference_statistics(str(source), cache_dir=tmp_path, full=False).canonical == first.canonical
    source.write_text("\n".join(REFERENCE[:3]) + "\n")  # other bytes: another key, another folder
    assert len(cache.reference_statistics(str(source), cache_dir=tmp_path, full=False).canonical) == 3
    assert len(list((tmp_path / "molecule-references").iterdir())) == 2


def test_stats_command_builds_the_cache_and_refuses_a_file_of_no_molecules(tmp_path):
    source = tmp_path / "reference.smi"
    source.write_text("\n".join(REFERENCE) + "\n")
    runner = CliRunner()
    result = runner.invoke(app, ["molecules", "stats", str(source), "--cache-dir", str(tmp_path / "c")])
    assert result.exit_code == 0, result.output
    assert "test: 8 molecules" in result.output and str(tmp_path / "c") in result.output
    (tmp_path / "words.smi").write_text("hello\nworld\n")
    result = runner.invoke(app, ["molecules", "stats", str(tmp_path / "words.smi"), "--cache-dir", str(tmp_path)])
    assert isinstance(result.exception, DataError)  # printed as one line by the entry point, no traceback
    assert "words.smi: none of its 2 rows is a valid SMILES string" in str(result.exception)
    assert not list((tmp_path / "molecule-references").glob("*/manifest.json"))

"""The MOSES metrics agree with the official package (molsets 0.3.1) on a checked-in set, metric by metric.

The set (tests/data/moses_agreement) holds 209 strings drawn from the MOSES test, scaffold-test and
training sets, 30 of them with one character deleted, 15 duplicates and four that are not molecules,
with small test, scaffold-test and training references. The expected values were computed once by
benchmarks/moses_reference_values.py in the molsets environment (benchmarks/reference/molsets_env.sh);
Frag is molsets' own fragment counts compared in float64 (docs/reference/moses-metrics.md says why).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from genmodels.applications.molecules.metrics import moses_metrics

DATA = Path(__file__).parent / "data" / "moses_agreement"
OFFICIAL = {
    "valid": 0.8755980861244019,
    "unique@100": 0.99,
    "FCD/Test": 11.888816646732607,
    "SNN/Test": 0.30549124347381906,
    "Frag/Test": 0.9746409638883562,
    "Scaf/Test": 0.019175887291829286,
    "FCD/TestSF": 12.050742335725417,
    "SNN/TestSF": 0.31042442971565687,
    "Frag/TestSF": 0.9801399570966705,
    "Scaf/TestSF": 0.1024934529273338,
    "IntDiv": 0.8499554553475169,
    "IntDiv2": 0.8301753149898567,
    "Filters": 1.0,
    "logP": 0.0951021426229509,
    "SA": 0.06498031462507857,
    "QED": 0.008823496779537844,
    "weight": 2.3646571857923506,
    "Novelty": 0.8809523809523809,
}


def read_lines(name: str) -> list[str]:
    return (DATA / name).read_text(encoding="utf-8").split("\n")[:-1]


FCD = ("FCD/Test", "FCD/TestSF")


def genmodels_values(fcd: bool) -> dict[str, float | None]:
    train, test, scaffolds = (read_lines(f"{name}.smi") for name in ("train", "test", "test_scaffolds"))
    return moses_metrics(read_lines("generated.txt"), train, test, scaffolds, n_jobs=1, unique_at=(100,), fcd=fcd)


def test_every_moses_metric_but_fcd_matches_the_official_package_to_1e_3_relative():
    metrics = genmodels_values(fcd=False)
    assert set(OFFICIAL) - set(FCD) <= set(metrics) and not set(FCD) & set(metrics)
    for name, expected in OFFICIAL.items():
        if name not in FCD:
            assert metrics[name] == pytest.approx(expected, rel=1e-3), name


@pytest.mark.slow  # ChemNet on 600 molecules: half a minute on two busy cores
def test_frechet_chemnet_distances_match_the_official_package_to_1e_3_relative():
    metrics = genmodels_values(fcd=True)
    for name in FCD:
        assert metrics[name] == pytest.approx(OFFICIAL[name], rel=1e-3), name

"""Ray Data on a local two-worker instance gives the scores and samples of one process.

Marked slow (a Ray instance takes 10-30 s to start on a busy machine; the whole file runs in under a
minute): ``pytest -m slow tests/test_ray_data.py``.
"""

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from serving_runs import save_serving_runs, transactions

import genmodels
from genmodels.applications.anomaly import Detector
from genmodels.applications.anomaly.rows import read_rows, scored_rows
from genmodels.applications.bulk import sample_table_in_chunks

ray = pytest.importorskip("ray")
pytestmark = pytest.mark.slow
SRC = str(Path(__file__).parents[1] / "src")


@pytest.fixture(scope="module")
def local_ray():
    # two scoring actors of one CPU each, plus room for the read and write tasks beside them
    ray.init(
        num_cpus=4,
        include_dashboard=False,
        log_to_driver=False,
        runtime_env={"env_vars": {"PYTHONPATH": SRC, "OMP_NUM_THREADS": "1"}},
    )
    yield
    ray.shutdown()


def test_two_ray_workers_score_and_sample_as_one_process(local_ray, tmp_path):
    from genmodels.applications.distributed import sample_with_ray, score_with_ray

    runs = save_serving_runs(tmp_path / "runs")
    table = transactions(rows=2000, seed=4)
    table.insert(0, "id", range(len(table)))
    table.to_parquet(tmp_path / "rows.parquet", index=False)
    detector = Detector.load(genmodels.load(runs["fraud"]), runs["fraud"])
    one_process = scored_rows(detector, read_rows(detector.model, tmp_path / "rows.parquet")[0], per_column=True)

    scored = score_with_ray(runs["fraud"], tmp_path / "rows.parquet", tmp_path / "scored", workers=2,
                            batch_rows=300, keep_columns=["id"])  # fmt: skip
    assert len(os.listdir(scored)) > 1  # written by both workers' blocks
    on_ray = pd.read_parquet(scored).sort_values("id").reset_index(drop=True)
    assert on_ray["id"].tolist() == list(range(2000))
    assert np.array_equal(on_ray["score"].to_numpy(float), one_process["score"].to_numpy(float))
    assert np.array_equal(on_ray["flag"].to_numpy(bool), one_process["flag"].to_numpy(bool))

    sampled = sample_with_ray(runs["fraud"], 250, tmp_path / "sampled", workers=2, chunk_rows=60, seed=3)
    on_ray = pd.read_parquet(sampled).sort_values("row").reset_index(drop=True)
    sample_table_in_chunks(genmodels.load(runs["fraud"]), 250, tmp_path / "one.parquet", chunk_rows=60, seed=3)
    pd.testing.assert_frame_equal(on_ray.drop(columns="row"), pd.read_parquet(tmp_path / "one.parquet"))

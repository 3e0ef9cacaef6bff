"""Fit one SDV 2.x synthesizer at its default settings and write synthetic rows (run with the SDV environment's
Python, made by sdv_env.sh). Prints {"seconds": training time} as JSON."""

from __future__ import annotations

import argparse
import json
import random
import time

import numpy as np
import pandas as pd
import torch
from sdv.metadata import Metadata
from sdv.single_table import CTGANSynthesizer, GaussianCopulaSynthesizer, TVAESynthesizer

SYNTHESIZERS = {"GaussianCopula": GaussianCopulaSynthesizer, "CTGAN": CTGANSynthesizer, "TVAE": TVAESynthesizer}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--train", required=True)
    parser.add_argument("--synthesizer", choices=sorted(SYNTHESIZERS), required=True)
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--seed", type=int, default=0, help="seeds Python, NumPy and PyTorch, which SDV draws from")
    arguments = parser.parse_args()
    random.seed(arguments.seed)
    np.random.seed(arguments.seed)
    torch.manual_seed(arguments.seed)
    train = pd.read_csv(arguments.train)
    metadata = Metadata.detect_from_dataframes({"table": train})
    synthesizer = SYNTHESIZERS[arguments.synthesizer](metadata)
    start = time.perf_counter()
    synthesizer.fit({"table": train})  # SDV 2 takes and returns {table name: frame}
    seconds = time.perf_counter() - start
    synthesizer._set_random_state(arguments.seed)  # SDV samples from a fixed seed of its own otherwise
    synthesizer.sample(arguments.rows)["table"].to_csv(arguments.output, index=False)
    print(json.dumps({"seconds": seconds}))


if __name__ == "__main__":
    main()

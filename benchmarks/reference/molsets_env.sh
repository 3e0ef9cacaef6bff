#!/usr/bin/env bash
# The official MOSES metrics (molsets 0.3.1) in their own virtual environment, apart from genmodels.
# molsets is installed without its declared dependencies: it pins pomegranate 0.12.0 (used only by its
# HMM baseline, which does not build on Python 3.11); the metrics need RDKit, fcd-torch and the
# scientific stack, installed here with torch pinned in the same command so that no CUDA build is pulled.
# Three compatibility shims for today's libraries are applied when molsets is imported, by
# benchmarks/reference/molsets_shims.py (rdkit.six, DataFrame.append, np.NaN); molsets' code is unchanged.
# Usage: bash benchmarks/reference/molsets_env.sh [VENV_DIR]   (default /work/venvs/molsets)
set -euo pipefail
venv="${1:-/work/venvs/molsets}"
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet torch==2.13.0 fcd-torch==1.0.7 rdkit numpy pandas scipy tqdm matplotlib \
    seaborn psutil
"$venv/bin/python" -m pip install --quiet --no-deps molsets==0.3.1
"$venv/bin/python" -c "import rdkit, torch, fcd_torch; print('rdkit', rdkit.__version__, 'torch', torch.__version__)"

#!/usr/bin/env bash
# The SDV 2.x reference synthesizers (GaussianCopula, CTGAN, TVAE) in their own virtual environment,
# apart from genmodels. torch is pinned in the same command so that no CUDA build is pulled.
# Usage: bash benchmarks/reference/sdv_env.sh [VENV_DIR]   (default /work/venvs/sdv)
set -euo pipefail
venv="${1:-/work/venvs/sdv}"
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet torch==2.13.0 sdv==2.0.0
"$venv/bin/python" -c "import sdv, torch; print('sdv', sdv.__version__, 'torch', torch.__version__)"

#!/usr/bin/env bash
# Hugging Face diffusers (UNet2DModel, DDPMScheduler, DDIMScheduler) in its own virtual environment,
# apart from genmodels. torch is pinned in the same command so that no CUDA build is pulled.
# Usage: bash benchmarks/reference/diffusers_env.sh [VENV_DIR]   (default /work/venvs/diffusers)
set -euo pipefail
venv="${1:-/work/venvs/diffusers}"
python3 -m venv "$venv"
"$venv/bin/python" -m pip install --quiet torch==2.13.0 diffusers==0.42.1 numpy pandas
"$venv/bin/python" -c "import diffusers, torch; print('diffusers', diffusers.__version__, 'torch', torch.__version__)"

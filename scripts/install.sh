#!/usr/bin/env bash
# Install genoattn into the active Python environment.
# Machines without an NVIDIA GPU get the CPU build of torch (no CUDA packages, a few hundred MB);
# machines with one get the default CUDA build from PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    "$PY" -m pip install "torch==2.13.0"
else
    "$PY" -m pip install "torch==2.13.0" --extra-index-url https://download.pytorch.org/whl/cpu
fi
"$PY" -m pip install -e ".[test]"

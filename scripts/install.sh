#!/usr/bin/env bash
# Install genoattn into the active Python environment.
# Machines without an NVIDIA GPU get the CPU build of torch (no CUDA packages, a few hundred MB)
# from PyTorch's CPU index, or from a local wheel where pip is configured with one (find-links)
# and that index is out of reach; machines with a GPU get the default CUDA build from PyPI.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python}
TORCH="torch==2.13.0"
CPU_INDEX=https://download.pytorch.org/whl/cpu
if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    "$PY" -m pip install "$TORCH"
elif "$PY" -c "import urllib.request as u; u.urlopen('$CPU_INDEX/torch/', timeout=5)" \
        >/dev/null 2>&1; then
    "$PY" -m pip install "$TORCH" --extra-index-url "$CPU_INDEX"
else
    "$PY" -m pip install "$TORCH"
fi
"$PY" -m pip install -e ".[test]"

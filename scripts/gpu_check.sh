#!/usr/bin/env bash
# GPU check of the sparse engine (issue 8): the GPU-marked tests (GPU operator, screening and
# staged fit against the CPU ones), then a short GPU benchmark of pair screening and the staged
# sparse fit on a simulated cohort, printing pair x samples per second. Under 5 minutes.
set -euo pipefail
cd "$(dirname "$0")/.."
python -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 'no CUDA device')"
timeout 180 python -m pytest -q -m gpu tests
timeout 120 python benchmarks/bench_scale.py gpu --n "${GPU_N:-20000}" --loci "${GPU_LOCI:-5000}"

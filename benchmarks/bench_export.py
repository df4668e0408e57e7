"""Export speed: score every locus pair of a dense (factorised) SA_lin at L = 10,000 loci.

The blocked evaluation of genoattn.interpret.export.rank_pairs never holds more than a
block x block x m x m table; this times all L(L-1)/2 pairs on the CPU (goal: under 5 minutes).

    python benchmarks/bench_export.py [--loci 10000] [--rank 8] [--block 1024]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from genoattn.interpret.effects import PairTables
from genoattn.interpret.export import rank_pairs
from genoattn.models.sa import SALin


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--loci", type=int, default=10_000)
    ap.add_argument("--rank", type=int, default=8)
    ap.add_argument("--block", type=int, default=1024)
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/export.json"))
    a = ap.parse_args()
    torch.manual_seed(0)
    n_states = np.full(a.loci, 3)
    model = SALin(int(n_states.sum()) + 1, rank=a.rank, init_scale=0.1)
    freq = torch.as_tensor(
        np.random.default_rng(0).dirichlet([2, 2, 2], size=a.loci), dtype=torch.float32
    )
    tables = PairTables(model, n_states)
    t0 = time.perf_counter()
    pairs, scores = rank_pairs(tables, freq, scale=1.0, keep=1000, block=a.block)
    secs = time.perf_counter() - t0
    n_pairs = a.loci * (a.loci - 1) // 2
    res = {
        "loci": a.loci,
        "pairs_scored": n_pairs,
        "rank": a.rank,
        "block": a.block,
        "seconds": round(secs, 2),
        "pairs_per_second": round(n_pairs / secs),
        "threads": torch.get_num_threads(),
        "kept": int(len(pairs)),
    }
    a.out.parent.mkdir(parents=True, exist_ok=True)
    a.out.write_text(json.dumps(res, indent=1))
    print(json.dumps(res, indent=1))


if __name__ == "__main__":
    main()

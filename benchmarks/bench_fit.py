"""Fitting benchmark (issues 3 and 5.2b): the brief's 3,000 x 2,729 cohort with six planted pairs.

Held-out R^2 of SA_lin (sparse), HyperAttention (sparse), factorised SA_lin trained by AdamW and the
additive baseline against the oracle; clumped recall@10 against the exhaustive scans and PLINK.

    python benchmarks/bench_fit.py [--quick] [--out results/genotype-cohort] [--seed 0]
"""

from __future__ import annotations

import argparse
from pathlib import Path

from genoattn.bench.cohort import run_cohort


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", type=Path, default=Path("results/genotype-cohort"))
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    print(run_cohort(a.quick, a.out, a.seed)["table"])


if __name__ == "__main__":
    main()

"""Power of the held-out confirmation on the bundled example's planted pairs.

`genoattn export` tests each reported pair on the run's test samples (default 15 % of 1,000 =
150) with the 4-df genotype-class test and the README's rule is Bonferroni over the reported
rows. How often does a planted pair pass at that level, for a given test-set size?

* analytic: the 4-df F test has noncentrality lambda = n * f2 with
  f2 = variance_epistatic / (1 - variance_explained - h2_covariates) (truth.tsv's shares of the
  trait variance: the pure-interaction part is what the test's contrast explains);
  power = P(F(4, n - 9 - c, lambda) > F_crit(alpha));
* empirical: the example's simulator settings (data/example/sim.yaml) with 20,000 samples, then
  ``reps`` random test sets of n samples each, ``confirm_pairs(..., test="genotype")`` with the
  covariates, as export runs it; power = share of sets with P <= alpha.

Usage: python benchmarks/confirmation_power.py [--reps 300] [--out benchmarks/results/...json]
"""

from __future__ import annotations

import argparse
import json
import resource
import time
from pathlib import Path

import numpy as np
import yaml
from scipy import stats

from genoattn.data.align import align
from genoattn.interpret.confirm import confirm_pairs
from genoattn.simulate import SimConfig, simulate

ROOT = Path(__file__).resolve().parents[1]
SIZES = (150, 300, 450, 600)
TOPS = (10, 50)  # Bonferroni over this many reported rows (export --top 50 is the default)


def analytic(v_epi: float, v_expl: float, h2_cov: float, n: int, alpha: float, c: int) -> float:
    f2 = v_epi / (1.0 - v_expl - h2_cov)
    df2 = n - 9 - c
    crit = stats.f.isf(alpha, 4, df2)
    return float(stats.ncf.sf(crit, 4, df2, n * f2))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--reps", type=int, default=300)
    ap.add_argument("--samples", type=int, default=20_000)
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results/confirmation_power.json"))
    args = ap.parse_args()
    t0 = time.perf_counter()
    raw = yaml.safe_load((ROOT / "data/example/sim.yaml").read_text())
    cfg = SimConfig(**{**raw, "n_samples": args.samples})
    sim = simulate(cfg)
    ds = align(sim.cohort, sim.trait, "sim", "sim")[0]
    truth = sim.truth.filter(order=2)
    pairs = truth.select("locus_a", "locus_b").to_numpy()
    rng = np.random.default_rng(0)
    c = ds.covariates.shape[1]
    rows = []
    for n in SIZES:
        p = np.stack(
            [
                confirm_pairs(ds, pairs, rows=rng.choice(ds.cohort.n_samples, n, replace=False),
                              test="genotype")["p"].to_numpy()
                for _ in range(args.reps)
            ]
        )  # fmt: skip  # (reps, pairs)
        for top in TOPS:
            alpha = 0.05 / top
            for j, t in enumerate(truth.iter_rows(named=True)):
                rows.append(
                    {
                        "n_test": n, "top": top, "alpha": alpha, "pair": t["term"],
                        "kind": t["kind"], "variance_epistatic": t["variance_epistatic"],
                        "power_empirical": float(np.mean(p[:, j] <= alpha)),
                        "power_analytic": analytic(t["variance_epistatic"],
                                                   t["variance_explained"],
                                                   cfg.h2_covariates, n, alpha, c),
                    }
                )  # fmt: skip
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    out = {
        "command": "python benchmarks/confirmation_power.py "
        f"--reps {args.reps} --samples {args.samples}",
        "reps": args.reps,
        "seconds": time.perf_counter() - t0,
        "peak_rss_mb": peak_mb,
        "rows": rows,
    }
    Path(args.out).write_text(json.dumps(out, indent=1))
    for r in rows:
        print(
            f"n_test {r['n_test']:4d}  top {r['top']:3d}  {r['pair']} ({r['kind']:9s})  "
            f"empirical {r['power_empirical']:.2f}  analytic {r['power_analytic']:.2f}"
        )
    print(f"{out['seconds']:.1f} s, peak RSS {peak_mb:.0f} MB")


if __name__ == "__main__":
    main()

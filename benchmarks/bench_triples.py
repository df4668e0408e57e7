"""3-way search: recall of planted triples and throughput of the exhaustive scan.

For each L, a seeded cohort (``genoattn.simulate``: n samples, LD, 10 additive loci, covariates)
with one planted triple of each kind (pure, product, dominance) at ``--h2`` of the variance each,
reduced to its pure 3-way part (``triple_lower=project``, the case with no pairwise trace; with
the lower-order parts kept, the 3-way part of a product or dominance triple is ~10 % of it).

* ``scan``: ``genoattn scan --order 3 --test genotype`` (the library call it makes), all triples,
  when the estimated time is under ``--max-scan-s``; otherwise a sample of tiles is timed and
  the full time EXTRAPOLATED (marked so in the JSON);
* ``scan_contrast``: ``scan --order 3 --candidates contrast`` (contrast-score screen of every
  triple on a seeded subset of 1,000 samples, best 0.1 % rescored exactly; see
  ``genoattn/stats/contrast3.py``);
* ``variance_pairs``: strategy (a) of issue 11 measured, not wired in: the pair scan (8-df
  genotype test) on squared residuals; rank of each planted triple's best pair among all pairs;
* ``ha``: ``fit --model ha`` (sparse) + ``export --order 3 --top 10`` with the default triple
  search (``triple_search=auto``: exhaustive up to 300 loci, focus loci beyond), and
  ``ha_pairs`` with the pair-extension search (``pairs``);
* recall@10 (clumped): a planted triple counts when one of the 10 best clumped rows matches it
  locus by locus (same locus or r^2 > 0.5);
* throughput in triple*samples/s against the published tensor-core record (2.5e13 on one GPU,
  case-control, no covariates) and against a naive per-triple regression (numpy lstsq of the
  27-cell and pairwise-cell designs, timed on a sample of triples).

Usage: python benchmarks/bench_triples.py [--loci 300 1000 2000] [--n 3000] [--seeds 0]
    [--steps scan cand var ha] [--threads 1] [--merge]
Writes benchmarks/results/triples.json (rows carry the load average and thread count). Peak
memory is the process's max RSS after each step (run one L per process for per-L figures).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import resource
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
import polars as pl  # noqa: E402
import torch  # noqa: E402

from genoattn.config import ExportConfig, FitConfig, from_dict  # noqa: E402
from genoattn.interpret.clump import clump  # noqa: E402
from genoattn.interpret.export import export as export_triples  # noqa: E402
from genoattn.interpret.scan import scan as pair_scan  # noqa: E402
from genoattn.simulate import SimConfig, simulate  # noqa: E402
from genoattn.stats.contrast3 import (  # noqa: E402
    CONTRAST_SAMPLES,
    contrast_pool,
    contrast_screen,
    naive_contrast_scores,
)
from genoattn.stats.scan3 import (  # noqa: E402
    default_block,
    prepare_triples,
    rescore,
    scan_triple_tile,
    scan_triples,
    screen_all,
    triple_tiles,
)
from genoattn.system.fit import fit  # noqa: E402
from genoattn.system.rundir import load_run  # noqa: E402

RECORD = 2.5e13  # triple*samples/s, tensor-core 3-way scan on one GPU (case-control, no covar.)


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def planted(sim) -> list[tuple[str, list[int]]]:
    rows = sim.truth.filter(pl.col("order") == 3).iter_rows(named=True)
    return [(r["kind"], sorted([r["locus_a"], r["locus_b"], r["locus_c"]])) for r in rows]


def recall(sim, found: np.ndarray) -> dict[str, bool]:
    """Planted triple matched by one of ``found`` (k, 3) locus by locus (same or r^2 > 0.5)."""
    dos = sim.cohort.states.astype(np.float64)
    out = {}
    for kind, t in planted(sim):
        hit = False
        for f in np.sort(found, axis=1).tolist():
            r2 = [np.corrcoef(dos[:, a], dos[:, b])[0, 1] ** 2 if a != b else 1.0
                  for a, b in zip(t, f, strict=True)]  # fmt: skip
            hit |= min(r2) > 0.5
        out[kind] = bool(hit)
    return out


def naive_rate(st: np.ndarray, y: np.ndarray, n_tri: int = 100, seed: int = 0) -> float:
    """triple*samples/s of an explicit per-triple regression (27 cells vs pairwise cells)."""
    rng = np.random.default_rng(seed)
    l = st.shape[1]
    t0 = time.perf_counter()
    for _ in range(n_tri):
        a, b, c = np.sort(rng.choice(l, 3, replace=False))
        g = st[:, [a, b, c]].astype(np.int64)
        x1 = np.eye(27)[9 * g[:, 0] + 3 * g[:, 1] + g[:, 2]]
        x0 = np.hstack([np.eye(9)[3 * g[:, i] + g[:, j]] for i, j in ((0, 1), (0, 2), (1, 2))])
        for x in (x1, x0):
            np.linalg.lstsq(x, y, rcond=None)
    return n_tri * len(y) / (time.perf_counter() - t0)


def scan_step(sim, ds, max_s: float) -> dict:
    l, n = sim.cohort.n_loci, sim.cohort.n_samples
    n_tri = l * (l - 1) * (l - 2) // 6
    block = default_block(n)
    p = prepare_triples(sim.cohort.states, ds.y, ds.covariates)
    tiles = triple_tiles(l, block)
    full = np.array([len(set(t.tolist())) == 3 for t in tiles])  # off-diagonal tiles
    sample = tiles[full][:3] if full.any() else tiles[:1]
    t0 = time.perf_counter()
    done = sum(int(scan_triple_tile(p, t, "genotype", block).idx.shape[0]) for t in sample)
    rate = done * n / (time.perf_counter() - t0)
    est = n_tri * n / rate
    out = {"triples": n_tri, "block": block, "tile_rate": rate, "estimated_s": est}
    # exact P of each planted triple against the Bonferroni bound of the whole scan: the power
    # statement that stands in for recall where the full scan is extrapolated
    idx = np.array([t for _, t in planted(sim)], dtype=np.int64)
    exact = rescore(p, idx, "genotype").columns()
    out["planted_p"] = {k: float(v) for (k, _), v in zip(planted(sim), exact["P"], strict=True)}
    out["bonferroni_0.05"] = 0.05 / n_tri
    if est > max_s:
        out |= {"extrapolated": True, "seconds": est, "rate": rate, "recall": None}
        return out
    t0 = time.perf_counter()
    res = scan_triples(ds, "genotype", top=200, block=block, device="cpu", log=lambda *_: None)
    sec = time.perf_counter() - t0
    res = clump(res, ds.cohort, r2=0.5, window_kb=250.0).head(10)
    found = res.select("idx_a", "idx_b", "idx_c").to_numpy()
    return out | {"extrapolated": False, "seconds": sec, "rate": n_tri * n / sec,
                  "recall": recall(sim, found), "peak_mb": peak_mb()}  # fmt: skip


def cand_step(sim, ds) -> dict:
    """``scan --order 3 --candidates contrast``: contrast screen of every triple, exact rescore."""
    t0 = time.perf_counter()
    res = scan_triples(ds, "genotype", top=200, device="cpu", log=lambda *_: None,
                       candidates="contrast")  # fmt: skip
    sec = time.perf_counter() - t0
    res = clump(res, ds.cohort, r2=0.5, window_kb=250.0).head(10)
    found = res.select("idx_a", "idx_b", "idx_c").to_numpy()
    l, n = sim.cohort.n_loci, min(CONTRAST_SAMPLES, sim.cohort.n_samples)
    return {"seconds": sec, "recall": recall(sim, found), "peak_mb": peak_mb(),
            "screen_samples": n, "screen_rate": l * (l - 1) * (l - 2) // 6 * n / sec}  # fmt: skip


def cand_estimate_step(sim, ds, n_null: int = 20000) -> dict:
    """Where the full contrast route does not fit the budget: the screen score of each planted
    triple (same sample subset as the route) against the scores of ``n_null`` random triples,
    and its EXTRAPOLATED screen rank among all C(L, 3) triples (empirical and chi-square 8)."""
    from scipy import stats

    l, n = sim.cohort.n_loci, sim.cohort.n_samples
    y_r = prepare_triples(sim.cohort.states, ds.y, ds.covariates).w_fast[:, 1].double().numpy()
    m = min(CONTRAST_SAMPLES, n)
    rows = np.sort(np.random.default_rng(0).choice(n, m, replace=False)) if m < n else np.arange(n)
    st, y = sim.cohort.states[rows], y_r[rows] - y_r[rows].mean()
    rng = np.random.default_rng(1)
    null = np.sort(np.array([rng.choice(l, 3, replace=False) for _ in range(n_null)]), axis=1)
    dos = np.where(st >= 0, st, 0).astype(np.float64)
    r2 = np.corrcoef(dos.T) ** 2
    ok = np.array([max(r2[a, b], r2[a, c], r2[b, c]) <= 0.5 for a, b, c in null.tolist()])
    null = null[ok]  # the route skips triples with two loci at r^2 > 0.5
    t0 = time.perf_counter()
    s_null = naive_contrast_scores(st, y, null)
    s_plant = naive_contrast_scores(st, y, np.array([t for _, t in planted(sim)]))
    n_tri = l * (l - 1) * (l - 2) // 6
    out = {"extrapolated": True, "screen_samples": m, "n_null": n_null,
           "null_mean": float(s_null.mean()), "pool": contrast_pool(n_tri, 200),
           "seconds_null": time.perf_counter() - t0}  # fmt: skip
    for (kind, _), sc in zip(planted(sim), s_plant, strict=True):
        out[kind] = {"score": float(sc), "rank_empirical": float(n_tri * (s_null >= sc).mean()),
                     "rank_chi2_8": float(n_tri * stats.chi2.sf(sc, 8))}  # fmt: skip
    return out


def rates_step(sim, ds, loci: int = 128) -> dict:
    """Same process, same loci (the first ``loci``), same samples: triple*samples/s of the
    exhaustive screen (screen_all) and of the contrast screen (all samples and the subset)."""
    st = sim.cohort.states[:, :loci]
    p = prepare_triples(st, ds.y, ds.covariates)
    y_r = p.w_fast[:, 1].double().numpy()
    n, n_tri = len(y_r), loci * (loci - 1) * (loci - 2) // 6
    out = {"loci": loci, "triples": n_tri, "samples": n}
    t0 = time.perf_counter()
    screen_all(p, "genotype", 1000, default_block(n))
    out["exhaustive_rate"] = n_tri * n / (time.perf_counter() - t0)
    for m in (n, CONTRAST_SAMPLES):
        t0 = time.perf_counter()
        contrast_screen(st, y_r, 1000, default_block(m), max_r2=0.5, samples=m)
        out[f"contrast_rate_n{m}"] = n_tri * m / (time.perf_counter() - t0)
    out["contrast_vs_exhaustive_same_n"] = out[f"contrast_rate_n{n}"] / out["exhaustive_rate"]
    return out


def variance_step(sim, ds) -> dict:
    """Strategy (a) of issue 11, measured: the pair scan (genotype test) on squared residuals
    (y on covariates); rank among all pairs of the best of each planted triple's three pairs."""
    y = ds.y.astype(np.float64)
    x = np.column_stack([np.ones(len(y)), ds.covariates])
    r = y - x @ np.linalg.lstsq(x, y, rcond=None)[0]
    d2 = dataclasses.replace(ds, y=(r * r).astype(np.float32),
                             covariates=np.zeros((len(y), 0), np.float32))  # fmt: skip
    t0 = time.perf_counter()
    res = pair_scan(d2, "genotype", top=None, log=lambda *_: None)
    sec = time.perf_counter() - t0
    ab = zip(res["idx_a"].to_numpy(), res["idx_b"].to_numpy(), strict=True)
    pos = {(int(a), int(b)): i for i, (a, b) in enumerate(ab)}
    ranks = {k: min(pos.get((t[i], t[j]), 10**9) for i, j in ((0, 1), (0, 2), (1, 2)))
             for k, t in planted(sim)}  # fmt: skip
    return {"seconds": sec, "pairs": res.height, "best_pair_rank": ranks}


def ha_step(sim, ds, search: str, work: Path) -> dict:
    cfg = from_dict(FitConfig, {"model": {"kind": "ha", "fit": "sparse",
                                          "sparse": {"triple_search": search}},
                                "train": {"progress": False, "accelerator": "cpu"}})  # fmt: skip
    out = work / f"ha_{search}"
    t0 = time.perf_counter()
    fit(ds, cfg, out, baseline=False, log=lambda *_: None)
    sec = time.perf_counter() - t0
    run = load_run(out)
    try:
        ex = export_triples(run, ds, ExportConfig(order=3, top=10), log=lambda *_: None)
        found = ex.pairs
    except Exception as e:  # a run without 3-way blocks finds nothing
        found = np.zeros((0, 3), dtype=np.int64)
        print(f"  {search}: {e}")
    metrics = json.loads((out / "metrics.json").read_text()) if (out / "metrics.json").is_file() \
        else {}  # fmt: skip
    return {"seconds": sec, "recall": recall(sim, found), "n_triples_kept": int(len(found)),
            "test_metrics": metrics.get("test"), "peak_mb": peak_mb()}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--loci", type=int, nargs="+", default=[300, 1000, 2000])
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--h2", type=float, default=0.05)
    ap.add_argument("--triple-lower", default="project", choices=["project", "keep"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0])
    ap.add_argument("--max-scan-s", type=float, default=600.0)
    ap.add_argument("--ha-max-loci", type=int, default=1000)
    ap.add_argument(
        "--steps",
        nargs="+",
        default=["scan", "cand", "var", "ha"],
        help="scan (exhaustive), cand (contrast route), var (variance pairs), ha",
    )
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--out", default="benchmarks/results/triples.json")
    ap.add_argument("--merge", action="store_true", help="update rows of an existing --out")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    results = []
    if args.merge and Path(args.out).is_file():
        results = json.loads(Path(args.out).read_text())["results"]
    for l in args.loci:
        for seed in args.seeds:
            cfg = SimConfig(
                n_samples=args.n,
                n_loci=l,
                pairs=[],
                h2_triple=args.h2,
                seed=seed,
                triples=["pure", "product", "dominance"],
                triple_lower=args.triple_lower,
            )
            sim = simulate(cfg)
            ds = sim.dataset()
            row = {"n": args.n, "loci": l, "seed": seed, "triple_lower": args.triple_lower,
                   "planted": planted(sim)}  # fmt: skip
            steps = {  # step name: (row key, measurement, its extra arguments)
                "scan": ("scan", scan_step, (args.max_scan_s,)),
                "cand": ("scan_contrast", cand_step, ()),
                "cand_estimate": ("scan_contrast_estimate", cand_estimate_step, ()),
                "rates": ("rates", rates_step, ()),
                "var": ("variance_pairs", variance_step, ()),
            }
            for step, (key, measure, extra) in steps.items():
                if step in args.steps:
                    row[key] = measure(sim, ds, *extra)
                    print(l, seed, key, row[key], flush=True)
            if l <= args.ha_max_loci and "ha" in args.steps:
                with tempfile.TemporaryDirectory() as tmp:
                    for search in ("auto", "pairs"):
                        row[f"ha_{search}"] = ha_step(sim, ds, search, Path(tmp))
                        print(l, seed, search, row[f"ha_{search}"], flush=True)
            row["naive_rate"] = naive_rate(sim.cohort.states, ds.y.astype(np.float64))
            row["record_rate"] = RECORD
            row["load_avg"], row["threads"] = os.getloadavg(), args.threads
            key = (l, seed, args.triple_lower)
            old = [r for r in results
                   if (r["loci"], r["seed"], r.get("triple_lower", "project")) == key]  # fmt: skip
            if old:
                old[0].update({k: v for k, v in row.items() if k != "planted" or v})
            else:
                results.append(row)
            Path(args.out).write_text(json.dumps(
                {"machine": {"cpu_count": os.cpu_count(), "threads": args.threads,
                             "torch": torch.__version__, "platform": platform.platform()},
                 "h2_each": args.h2, "results": results},
                indent=1))  # fmt: skip
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

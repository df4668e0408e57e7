"""Power and specificity (issue 15): power curves of planted pairs, held-out R^2 / oracle, and
the confirmation rate of phantom pairs made by untyped haplotype effects.

Power grid: n x variance per pair x seeds cohorts of ``--loci`` SNPs on 2 chromosomes with four
planted pairs (product, dominance and pure across chromosomes, one cis product pair within 20
loci) and 10 additive loci (10 % of the variance). Per cohort: clumped recall@10 of genoattn's
sparse fit (export top 10: the model's pairs, then the pairs screened on the fit's samples; and
of the model's pairs alone, ``--model-only``), of the exhaustive 4-df scan (``genoattn scan
--test genotype``) and of PLINK 1.9 ``--epistasis``; the fit's held-out R^2 over the oracle's
(the planted model on the same test samples); how many planted pairs the export confirms
(held-out P below 0.05 / rows) without and with conditioning on local main effects.

Phantom replicates: cohorts with no interaction at all, one untyped haplotype effect (a causal
allele on the background of two typed SNPs within 20 loci, r^2 < 0.2, absent from the cohort)
and the additive background; per replicate whether the export confirms any pair (family-wise,
Bonferroni over the rows) and whether it confirms the phantom pair itself, for each
conditioning mode.

    nice -n 10 python benchmarks/bench_power.py --selection holdout,cv --ns 2000,5000 \\
        --vs 0.04 --seeds 5 --phantom 0 --out benchmarks/results/power_cv.json
    nice -n 10 python benchmarks/bench_power.py --out benchmarks/results/power.json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import polars as pl  # noqa: E402
import torch  # noqa: E402

from genoattn.bench.cohort import _plink_epistasis, recall_at  # noqa: E402
from genoattn.config import ExportConfig, FitConfig, from_dict  # noqa: E402
from genoattn.interpret.clump import clump, ld_r2  # noqa: E402
from genoattn.interpret.export import export as export_pairs  # noqa: E402
from genoattn.interpret.scan import scan  # noqa: E402
from genoattn.simulate import SimConfig, simulate  # noqa: E402
from genoattn.system.fit import fit  # noqa: E402
from genoattn.system.metrics import r2_score  # noqa: E402
from genoattn.system.rundir import load_run  # noqa: E402

CONDITIONS = ("none", "selected", "all", "cis")
QUIET = lambda s: None  # noqa: E731


def fit_export(ds, selection: str, seed: int, work: Path) -> tuple[dict[str, Any], dict]:
    """Default sparse fit (``selection``) and its top-10 export under each conditioning mode."""
    cfg = from_dict(
        FitConfig,
        {
            "model": {"kind": "sa", "fit": "sparse", "sparse": {"selection": selection}},
            "train": {"seed": seed, "progress": False},
        },
    )
    t0 = time.perf_counter()
    res = fit(ds, cfg, work, overwrite=True, baseline=False, log=QUIET)
    secs = time.perf_counter() - t0
    run = load_run(work)
    exports = {c: export_pairs(run, ds, ExportConfig(top=10, condition=c), log=QUIET)
               for c in CONDITIONS}  # fmt: skip
    # the table before the screened rows (interpret/screened.py): the model's pairs only
    only = ExportConfig(top=10, condition="none", screened=False)
    exports["model_only"] = export_pairs(run, ds, only, log=QUIET)
    return {"test_r2": res["test"]["r2"], "fit_s": secs, "test_rows": run.split["test"]}, exports


def confirmed(exp, targets: np.ndarray, r2: np.ndarray) -> tuple[list[int], bool]:
    """(per target: confirmed at Bonferroni over the rows, any row confirmed)."""
    p = exp.table["heldout_p"].to_numpy()
    ok = np.nan_to_num(p.astype(float), nan=1.0) < 0.05 / max(len(p), 1)
    hits = [int(recall_at(exp.pairs[ok], t[None, :], r2, k=10)) if ok.any() else 0
            for t in targets]  # fmt: skip
    return hits, bool(ok.any())


def power_cell(n: int, v: float, seed: int, loci: int, selections: list[str], tmp: Path) -> dict:
    sim = simulate(
        SimConfig(n_samples=n, n_loci=loci, pairs=["product", "dominance", "pure"],
                  cis_pairs=["product"], h2_pair=v, n_additive=10, h2_additive=0.1, seed=seed)
    )  # fmt: skip
    ds = sim.dataset()
    truth = sim.truth.filter(pl.col("order") == 2)
    planted = truth.select("locus_a", "locus_b").to_numpy().astype(np.int64)
    kinds = [
        t if t.startswith("cis") else k for t, k in zip(truth["term"], truth["kind"], strict=True)
    ]
    r2 = ld_r2(np.asarray(sim.cohort.states))
    out: dict[str, Any] = {"n": n, "v": v, "seed": seed, "kinds": kinds}
    signal = sim.genetic_value + sim.covariate_value
    y = ds.y.astype(np.float64)
    for sel in selections:
        info, exps = fit_export(ds, sel, seed, tmp / f"run_{sel}")
        te = info.pop("test_rows")
        oracle = r2_score(y[te], signal[te] + (y[te] - signal[te]).mean())
        hits = [recall_at(exps["none"].pairs, p[None, :], r2) for p in planted]
        model = [recall_at(exps["model_only"].pairs, p[None, :], r2) for p in planted]
        per = {c: confirmed(exps[c], planted, r2)[0] for c in CONDITIONS}
        out[sel] = {**info, "oracle_r2": oracle, "ratio": info["test_r2"] / oracle,
                    "recall": float(np.mean(hits)), "hits": hits,
                    "recall_model_only": float(np.mean(model)),
                    "confirmed_model_only": sum(confirmed(exps["model_only"], planted, r2)[0]),
                    "confirmed": {c: sum(h) for c, h in per.items()},
                    "confirmed_hits": per}  # fmt: skip
    t0 = time.perf_counter()
    tab = clump(scan(ds, "genotype", top=2000, progress=False, log=QUIET), ds.cohort)
    found = tab.select("idx_a", "idx_b").to_numpy()
    hits = [recall_at(found, p[None, :], r2) for p in planted]
    out["scan4"] = {"recall": float(np.mean(hits)), "hits": hits, "s": time.perf_counter() - t0}
    # the same scan on the samples the fit learns from (its training + validation samples): the
    # scan above also ranks with the test samples, which the fit keeps for confirmation
    learn = np.setdiff1d(np.arange(n), te)
    tab = clump(scan(ds, "genotype", top=2000, rows=learn, progress=False, log=QUIET), ds.cohort)
    hits = [recall_at(tab.select("idx_a", "idx_b").to_numpy(), p[None, :], r2) for p in planted]
    out["scan4_fit"] = {"recall": float(np.mean(hits)), "hits": hits}
    plink = _plink_epistasis(ds, tmp)
    if plink is not None:
        pairs, secs, _ = plink
        frame = pl.DataFrame({"idx_a": pairs[:, 0], "idx_b": pairs[:, 1]})
        found = clump(frame, ds.cohort).select("idx_a", "idx_b").to_numpy()
        hits = [recall_at(found, p[None, :], r2) for p in planted]
        out["plink"] = {"recall": float(np.mean(hits)), "hits": hits, "s": secs}
    return out


def phantom_rep(n: int, rep: int, loci: int, h2: float, selection: str, tmp: Path) -> dict:
    sim = simulate(
        SimConfig(n_samples=n, n_loci=loci, pairs=[], haplotypes=1, h2_haplotype=h2,
                  n_additive=10, h2_additive=0.1, seed=10_000 + rep)
    )  # fmt: skip
    ds = sim.dataset()
    hap = sim.truth.filter(pl.col("kind") == "haplotype")
    target = hap.select("locus_a", "locus_b").to_numpy().astype(np.int64)
    r2 = ld_r2(np.asarray(sim.cohort.states))
    info, exps = fit_export(ds, selection, rep, tmp / "phantom")
    reported = recall_at(exps["none"].pairs, target, r2)
    out = {"rep": rep, "epistatic_share": float(hap["variance_epistatic"][0]),
           "fit_s": info["fit_s"], "reported": reported,
           "reported_model_only": recall_at(exps["model_only"].pairs, target, r2)}  # fmt: skip
    for c in CONDITIONS:
        hit, any_row = confirmed(exps[c], target, r2)
        out[c] = {"phantom_confirmed": hit[0], "any_confirmed": any_row}
    return out


def _mean(rows: list[dict], *keys: str) -> float:
    vals = []
    for r in rows:
        x: Any = r
        for k in keys:
            x = x.get(k) if isinstance(x, dict) else None
        if x is not None:
            vals.append(float(x))
    return float(np.mean(vals)) if vals else float("nan")


def summarise(cells: list[dict], phantom: list[dict], selections: list[str]) -> dict:
    grid: dict[str, Any] = {}
    for n, v in sorted({(c["n"], c["v"]) for c in cells}):
        rows = [c for c in cells if c["n"] == n and c["v"] == v]
        s = {"seeds": len(rows), "scan4_recall": _mean(rows, "scan4", "recall"),
             "scan4_fit_recall": _mean(rows, "scan4_fit", "recall"),
             "plink_recall": _mean(rows, "plink", "recall")}  # fmt: skip
        for sel in selections:
            s[f"{sel}_recall"] = _mean(rows, sel, "recall")
            s[f"{sel}_recall_model_only"] = _mean(rows, sel, "recall_model_only")
            s[f"{sel}_confirmed_model_only_none"] = _mean(rows, sel, "confirmed_model_only") / 4
            s[f"{sel}_ratio"] = _mean(rows, sel, "ratio")
            s[f"{sel}_fit_s"] = _mean(rows, sel, "fit_s")
            for c in CONDITIONS:
                s[f"{sel}_confirmed_{c}"] = _mean(rows, sel, "confirmed", c) / 4
        grid[f"n={n},v={v}"] = s
    ph = {c: {"phantom_rate": _mean(phantom, c, "phantom_confirmed"),
              "fwer": _mean(phantom, c, "any_confirmed")} for c in CONDITIONS}  # fmt: skip
    ph["reported_rate"] = _mean(phantom, "reported")
    ph["reported_rate_model_only"] = _mean(phantom, "reported_model_only")
    ph["replicates"] = len(phantom)
    return {"grid": grid, "phantom": ph}


def plot(summary: dict, selection: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grid = summary["grid"]
    vs = sorted({float(k.split("v=")[1]) for k in grid})
    fig, axes = plt.subplots(1, len(vs) + 1, figsize=(3.6 * (len(vs) + 1), 3.2),
                             layout="constrained")  # fmt: skip
    for ax, v in zip(axes, vs, strict=False):
        keys = sorted((int(k.split(",")[0][2:]), k) for k in grid if float(k.split("v=")[1]) == v)
        ns = [n for n, _ in keys]
        for name, col, st in ((f"{selection}_recall", "genoattn", "o-"),
                              (f"{selection}_recall_model_only", "genoattn, model's pairs", "o:"),
                              ("scan4_recall", "4-df scan", "s--"),
                              ("scan4_fit_recall", "4-df scan, fit's samples", "s-."),
                              ("plink_recall", "PLINK 1.9", "^:")):  # fmt: skip
            ax.plot(ns, [grid[k][name] for _, k in keys], st, label=col)
        ax.set_xscale("log")
        ax.set_ylim(-0.05, 1.05)
        ax.set_title(f"{v:.0%} of variance per pair")
        ax.set_xlabel("samples n")
        ax.set_ylabel("recall@10 (clumped)")
    ax = axes[-1]
    for v in vs:
        keys = sorted((int(k.split(",")[0][2:]), k) for k in grid if float(k.split("v=")[1]) == v)
        ax.plot([n for n, _ in keys], [grid[k][f"{selection}_ratio"] for _, k in keys], "o-",
                label=f"{v:.0%} per pair")  # fmt: skip
    ax.axhline(0.85, color="grey", lw=0.8, ls="--")
    ax.set_xscale("log")
    ax.set_title("genoattn held-out R² / oracle")
    ax.set_xlabel("samples n")
    axes[0].legend(frameon=False, fontsize=8)
    ax.legend(frameon=False, fontsize=8)
    fig.savefig(path, dpi=110)


def _progress(c: dict, sels: list[str]) -> None:
    parts = [f"n={c['n']} v={c['v']} seed={c['seed']}"]
    for s in sels:
        r = c[s]
        parts.append(
            f"{s}: recall {r['recall']:.2f} (model's pairs {r['recall_model_only']:.2f})"
            f" ratio {r['ratio']:.2f} {r['fit_s']:.1f}s"
        )
    parts.append(f"scan4 {c['scan4']['recall']:.2f} (fit's samples {c['scan4_fit']['recall']:.2f})")
    parts.append(f"plink {c.get('plink', {}).get('recall', float('nan')):.2f}")
    print(" | ".join(parts), flush=True)


def write_record(path: Path, record: dict) -> None:
    """The JSON record, written atomically (after every cohort, so a stopped run keeps data)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(record, indent=1, default=float))
    tmp.replace(path)


def merge(paths: list[Path], out: Path, selection: str) -> None:
    """Pool the cohorts of several runs (shards) into one summary, record and plot."""
    parts = [json.loads(p.read_text()) for p in paths]
    cells = [c for p in parts for c in p["cells"]]
    phantom = [r for p in parts for r in p["phantom"]]
    sels = sorted({s for p in parts for s in p["settings"]["selection"].split(",")})
    summary = summarise(cells, phantom, sels)
    cost = {str(p): {k: q[k] for k in ("wall_s", "cpu_s", "peak_rss_mb", "load_average")}
            for p, q in zip(paths, parts, strict=True)}  # fmt: skip
    write_record(out, {"shards": cost, "summary": summary, "cells": cells, "phantom": phantom,
                       "cpu_s": sum(q["cpu_s"] for q in parts)})  # fmt: skip
    if cells:
        plot(summary, selection, out.with_suffix(".png"))
    print(json.dumps(summary, indent=1, default=float))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--ns", default="1000,2000,5000,10000")
    ap.add_argument("--vs", default="0.01,0.02,0.04")
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--seeds-large", type=int, default=None, help="seeds at n >= 10,000")
    ap.add_argument("--seed-first", type=int, default=0, help="first seed of every cell")
    ap.add_argument("--loci", type=int, default=500)
    ap.add_argument("--selection", default="holdout", help="comma list: holdout, cv")
    ap.add_argument("--phantom", type=int, default=20, help="phantom replicates")
    ap.add_argument("--phantom-first", type=int, default=0, help="first phantom replicate")
    ap.add_argument("--phantom-n", type=int, default=5000)
    ap.add_argument("--phantom-h2", type=float, default=0.05)
    ap.add_argument("--merge", type=Path, nargs="*", help="pool these shard records into --out")
    ap.add_argument("--out", type=Path, default=Path("benchmarks/results/power.json"))
    a = ap.parse_args()
    if a.merge:
        return merge(a.merge, a.out, a.selection.split(",")[0])
    torch.set_num_threads(1)
    sels = a.selection.split(",")
    t_start = time.perf_counter()
    cells, phantom = [], []
    settings = {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(a).items()}

    def save() -> None:
        write_record(a.out, {
            "settings": settings, "summary": summarise(cells, phantom, sels), "cells": cells,
            "phantom": phantom, "wall_s": time.perf_counter() - t_start,
            "cpu_s": time.process_time(),
            "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            "load_average": os.getloadavg(),
        })  # fmt: skip

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for n in [int(x) for x in a.ns.split(",") if x]:
            seeds = a.seeds_large if (a.seeds_large and n >= 10_000) else a.seeds
            for v in [float(x) for x in a.vs.split(",") if x]:
                for seed in range(a.seed_first, a.seed_first + seeds):
                    cells.append(power_cell(n, v, seed, a.loci, sels, tmp))
                    _progress(cells[-1], sels)
                    save()
        for rep in range(a.phantom_first, a.phantom_first + a.phantom):
            phantom.append(phantom_rep(a.phantom_n, rep, a.loci, a.phantom_h2, sels[0], tmp))
            print(f"phantom {rep}: {phantom[-1]}", flush=True)
            save()
    if cells:
        plot(summarise(cells, phantom, sels), sels[0], a.out.with_suffix(".png"))


if __name__ == "__main__":
    main()

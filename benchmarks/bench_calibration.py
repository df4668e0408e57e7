"""Calibration of the exported held-out p-values under the null (no planted interaction).

Each replicate simulates a cohort without any interaction, fits it (the
default sparse SA_lin, and SA_lin by sgd, whose dense interaction tables always export a full
top-k), exports the top pairs and tests each on the run's test samples with both confirmation
tests (product: 1 df; genotype: 3x3 classes). Every exported p is pooled per (trait type, test):

* KS test of the pooled p against U(0, 1), and the share below 0.05 and 0.01;
* family-wise error of the Bonferroni rule the README recommends: the share of replicates in
  which some row of the table has p < 0.05 / (rows of that table).

Two nulls: ``global`` (no genetic effect at all: the tests' null holds for every pair) and
``additive`` (5 additive loci, h2 0.2, in LD with their neighbours: no epistasis anywhere, but an
untested causal locus in LD with both loci of a pair can make the pair look interacting, the
"phantom epistasis" of a two-locus test that adjusts only for its own loci).

Writes benchmarks/results/calibration_<null>.json (trait types not rerun are kept) and
calibration_<null>_<traits>_qq.png.

    nice -n 5 python benchmarks/bench_calibration.py --null global --replicates 100
    nice -n 5 python benchmarks/bench_calibration.py --null additive --replicates 100
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from scipy import stats

from genoattn.config import ExportConfig, FitConfig, from_dict
from genoattn.interpret.confirm import confirm_pairs
from genoattn.interpret.export import export as export_pairs
from genoattn.simulate import SimConfig, simulate
from genoattn.system.fit import fit
from genoattn.system.resources import Resources
from genoattn.system.rundir import load_run

RESULTS = Path(__file__).parent / "results"
TESTS = ("product", "genotype")


def null_replicate(seed: int, binary: bool, model: str, work: Path, args) -> dict:
    """Held-out p-values (per test) of every exported pair of one null cohort."""
    sim = SimConfig(
        n_samples=args.samples,
        n_loci=args.loci,
        pairs=[],
        n_additive=5 if args.null == "additive" else 0,
        h2_additive=0.2 if args.null == "additive" else 0.0,
        binary=binary,
        prevalence=0.3,
        seed=10_000 + seed,
    )
    ds = simulate(sim).dataset()
    fit_kind = {"sparse": "sparse", "sgd": "sgd"}[model]
    cfg = from_dict(
        FitConfig,
        {
            "model": {"kind": "sa", "fit": fit_kind},
            "train": {"progress": False, "seed": seed, "test_fraction": 0.3, "max_epochs": 30},
        },
    )
    run_dir = work / f"run_{model}_{int(binary)}_{seed}"
    fit(ds, cfg, run_dir, baseline=False, log=lambda s: None)
    run = load_run(run_dir)
    ex = export_pairs(run, ds, ExportConfig(top=args.top), log=lambda s: None)
    test_rows = run.split["test"]
    out = {}
    for test in TESTS:
        p = confirm_pairs(ds, ex.pairs, rows=test_rows, test=test)["p"].to_numpy()
        out[test] = [float(v) for v in p]
    return out


def summarise(tables: list[list[float]]) -> dict:
    """KS, tail shares and the Bonferroni family-wise error of per-replicate p tables."""
    pooled = np.array([p for t in tables for p in t], dtype=np.float64)
    ok = pooled[np.isfinite(pooled)]
    fwer = [bool(np.any(np.asarray(t)[np.isfinite(t)] < 0.05 / max(len(t), 1))) for t in tables]
    nonempty = [f for f, t in zip(fwer, tables, strict=True) if len(t)]
    return {
        "n_p": int(len(ok)),
        "n_nan": int(np.isnan(pooled).sum()),
        "ks_p": float(stats.kstest(ok, "uniform").pvalue) if len(ok) else None,
        "share_below_0.05": float((ok < 0.05).mean()) if len(ok) else None,
        "share_below_0.01": float((ok < 0.01).mean()) if len(ok) else None,
        "replicates_with_rows": int(len(nonempty)),
        "fwer_bonferroni": float(np.mean(fwer)) if fwer else None,
        "fwer_bonferroni_se": float(np.sqrt(np.mean(fwer) * (1 - np.mean(fwer)) / len(fwer)))
        if fwer
        else None,
    }


def qq_plot(pvalues: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = sorted(pvalues)
    fig, axes = plt.subplots(1, len(keys), figsize=(3.2 * len(keys), 3.4), squeeze=False)
    for ax, key in zip(axes[0], keys, strict=True):
        p = np.sort(np.asarray(pvalues[key], dtype=np.float64))
        p = p[np.isfinite(p)]
        if len(p) == 0:
            continue
        e = (np.arange(1, len(p) + 1) - 0.5) / len(p)
        lo = stats.beta.ppf(0.025, np.arange(1, len(p) + 1), np.arange(len(p), 0, -1))
        hi = stats.beta.ppf(0.975, np.arange(1, len(p) + 1), np.arange(len(p), 0, -1))
        ax.fill_between(-np.log10(e), -np.log10(lo), -np.log10(hi), color="0.85")
        ax.plot(-np.log10(e), -np.log10(p), ".", ms=3)
        m = max(-np.log10(e[0]), -np.log10(p[0]))
        ax.plot([0, m], [0, m], "k--", lw=0.8)
        ax.set_title(key.replace("|", "\n"), fontsize=8)
        ax.set_xlabel("expected -log10 p")
    axes[0][0].set_ylabel("observed -log10 p")
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--null", choices=("global", "additive"), default="global")
    ap.add_argument("--replicates", type=int, default=100)
    ap.add_argument("--samples", type=int, default=400)
    ap.add_argument("--loci", type=int, default=40)
    ap.add_argument("--top", type=int, default=10)
    ap.add_argument("--models", default="sparse,sgd")
    ap.add_argument(
        "--traits", default="quantitative,binary", help="rerun some trait types; others kept"
    )
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    torch.set_num_threads(1)
    res = Resources()
    tables: dict[str, list[list[float]]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for trait in args.traits.split(","):
            binary = trait == "binary"
            for model in args.models.split(","):
                t = time.perf_counter()
                with res.stage(f"{trait}|{model}"):
                    for seed in range(args.replicates):
                        rep = null_replicate(seed, binary, model, Path(tmp), args)
                        for test, p in rep.items():
                            tables.setdefault(f"{trait}|{model}|{test}", []).append(p)
                dt = time.perf_counter() - t
                print(f"{trait} {model}: {args.replicates} replicates, {dt:.0f} s", flush=True)
    summary = {key: summarise(t) for key, t in sorted(tables.items())}
    for key, s in summary.items():
        print(key, json.dumps(s))
    args.out.mkdir(parents=True, exist_ok=True)
    name = f"calibration_{args.null}"
    path = args.out / f"{name}.json"
    old = json.loads(path.read_text()) if path.is_file() else {}
    kept = {k: v for k, v in old.get("summary", {}).items() if k.split("|")[0] not in args.traits}
    command = (
        f"python benchmarks/bench_calibration.py --null {args.null} "
        f"--replicates {args.replicates} --samples {args.samples} --loci {args.loci} "
        f"--top {args.top} --models {args.models} --traits {args.traits}"
    )
    commands = {k: v for k, v in old.get("commands", {}).items() if k not in args.traits}
    commands.update({t: command for t in args.traits.split(",")})
    summary = dict(sorted({**kept, **summary}.items()))
    record = {
        "commands": commands,
        "design": {
            "replicates": args.replicates,
            "samples": args.samples,
            "loci": args.loci,
            "test_fraction": 0.3,
            "top": args.top,
            "null": args.null,
            "trait": "additive background (5 loci, h2 0.2) or none, no interaction; binary: "
            "liability threshold, prevalence 0.3",
        },
        "summary": summary,
        "resources": res.report(),
    }
    path.write_text(json.dumps(record, indent=2))
    pooled = {k: [p for t in v for p in t] for k, v in tables.items()}
    qq = args.out / f"{name}_{args.traits.replace(',', '_')}_qq.png"
    qq_plot(pooled, qq)
    print(f"wrote {path} and {qq.name} ({res.summary()})")


if __name__ == "__main__":
    main()

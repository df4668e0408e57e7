"""The sgd route on planted cohorts: held-out R^2 of SA_lin, HyperFeatureAttention and
HyperAttention trained by gradient descent against the additive baseline, over several seeds, and
a 2-process DDP fit (gloo, CPU) against the single-process fit.

    nice -n 5 python benchmarks/bench_sgd.py --seeds 5            # small planted cohorts
    nice -n 5 python benchmarks/bench_sgd.py --seeds 1 --big      # the 3,000 x 2,729 cohort

Writes benchmarks/results/sgd.json (or sgd_big.json).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch

from genoattn.bench.cohort import sim_config
from genoattn.config import FitConfig, from_dict
from genoattn.simulate import SimConfig, simulate
from genoattn.system.fit import fit
from genoattn.system.resources import Resources

RESULTS = Path(__file__).parent / "results"


def cohort(seed: int, big: bool) -> SimConfig:
    if big:  # bench_fit.py's cohort: six planted pairs of 5% each, 20 additive loci
        return sim_config(False, seed)
    return SimConfig(
        n_samples=1500,
        n_loci=30,
        pairs=["product", "dominance"],
        h2_pair=0.25,
        n_additive=4,
        h2_additive=0.05,
        seed=seed,
    )


def one(ds, kind: str, seed: int, work: Path, devices: int = 1, epochs: int = 60) -> dict:
    train = {"progress": False, "accelerator": "cpu", "seed": seed, "max_epochs": epochs}
    if devices > 1:
        train.update(devices=devices, strategy="ddp_fork")
    model = {"kind": kind, "fit": "sgd"}
    if kind == "sa16":
        model = {"kind": "sa", "fit": "sgd", "rank": 16}
    cfg = from_dict(FitConfig, {"model": model, "train": train})
    t = time.perf_counter()
    r = fit(ds, cfg, work / f"{kind}_{seed}_{devices}", log=lambda s: None)
    return {
        "test_r2": r["test"]["r2"],
        "additive_test_r2": r["additive"]["test"]["r2"],
        "train_r2": r["train"]["r2"],
        "seconds": time.perf_counter() - t,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=5)
    ap.add_argument("--big", action="store_true")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args()
    torch.set_num_threads(1)
    res = Resources()
    kinds = ("sa16",) if args.big else ("sa", "hfa", "ha")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.seeds):
            ds = simulate(cohort(seed, args.big)).dataset()
            for kind in kinds:
                with res.stage(kind):
                    rows.append({"seed": seed, "kind": kind, **one(ds, kind, seed, Path(tmp))})
                print(rows[-1], flush=True)
            if not args.big:
                with res.stage("sa_ddp2"):
                    rows.append(
                        {"seed": seed, "kind": "sa_ddp2", **one(ds, "sa", seed, Path(tmp), 2)}
                    )
                print(rows[-1], flush=True)
    summary = {}
    for kind in sorted({r["kind"] for r in rows}):
        sel = [r for r in rows if r["kind"] == kind]
        summary[kind] = {
            "median_test_r2": statistics.median(r["test_r2"] for r in sel),
            "median_additive_test_r2": statistics.median(r["additive_test_r2"] for r in sel),
            "wins_over_additive": sum(r["test_r2"] > r["additive_test_r2"] for r in sel),
            "seeds": len(sel),
            "median_seconds": statistics.median(r["seconds"] for r in sel),
        }
    if not args.big:
        diffs = [
            abs(a["test_r2"] - b["test_r2"])
            for a in rows
            if a["kind"] == "sa_ddp2"
            for b in rows
            if b["kind"] == "sa" and b["seed"] == a["seed"]
        ]
        summary["ddp2_vs_single_max_abs_r2_diff"] = max(diffs)
    name = "sgd_big" if args.big else "sgd"
    record = {
        "command": f"python benchmarks/bench_sgd.py --seeds {args.seeds}"
        + (" --big" if args.big else ""),
        "rows": rows,
        "summary": summary,
        "resources": res.report(),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{name}.json").write_text(json.dumps(record, indent=2))
    print(json.dumps(summary, indent=2))
    print(f"wrote {args.out / name}.json ({res.summary()})")


if __name__ == "__main__":
    main()

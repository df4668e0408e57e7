"""Beyond one process: the same scan by 1 process, by --shard 1..K/K + merge, by --workers W.

A seeded cohort (independent SNPs, MAF 0.05-0.5, one planted product pair) is written as
.bed/.pheno and its encoded cache built once; then, each as fresh processes under /usr/bin/time
(wall, peak RSS of the command's own process):

* ``genoattn scan --bfile X --pheno X.pheno --top 1000 --out one.tsv``
* ``genoattn scan ... --shard k/K --out s_k.parquet`` for k = 1..K (one after the other here; on a
  cluster they run at the same time), then ``genoattn merge s_*.parquet --out merged.tsv``
* ``genoattn scan ... --workers W --out dask.tsv`` (LocalCluster of W worker processes; the peak
  RSS is the client's, the workers' is not included)

The three tables and their records (``.scan.json``: tests counted for multiplicity, top, tile
grid) are asserted identical byte for byte. From the timings, a model of K machines: each run
costs a fixed part ``s`` (start-up, loading, preparing) plus its share of the tile work ``W``;
``one = s + W`` and the mean shard ``= s + W / K`` give ``W`` and ``s``, tiles per second per
process = tiles / W, and the expected wall on K machines = s + W / K + merge (extrapolated, on
paper).

Usage: python benchmarks/bench_distributed.py [--n 5000] [--l 10000] [--shards 4] [--workers 2]
Writes benchmarks/results/distributed.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np


def write_cohort(prefix: Path, n: int, l: int, seed: int) -> None:
    """Seeded .bed/.bim/.fam and .pheno, written in blocks of loci (memory O(n * block))."""
    from bed_reader import to_bed

    rng = np.random.default_rng(seed)
    freq = rng.uniform(0.05, 0.5, l)
    g = np.empty((n, l), np.int8)
    for j in range(0, l, 2000):
        f = freq[j : j + 2000]
        g[:, j : j + 2000] = rng.binomial(2, f, size=(n, len(f)))
    a, b = l // 5, 3 * l // 4
    y = 0.3 * g[:, a] * g[:, b] + rng.normal(size=n)
    iid = [f"s{i}" for i in range(n)]
    props = {
        "fid": iid, "iid": iid, "sid": [f"rs{j}" for j in range(l)], "chromosome": ["1"] * l,
        "bp_position": 1000 * np.arange(1, l + 1), "allele_1": ["A"] * l, "allele_2": ["G"] * l,
    }  # fmt: skip
    to_bed(f"{prefix}.bed", g, properties=props)
    with open(f"{prefix}.pheno", "w") as fh:
        fh.writelines(f"{s} {s} {v:.7g}\n" for s, v in zip(iid, y, strict=True))


def timed(cmd: list[str], env: dict) -> dict:
    with tempfile.NamedTemporaryFile("r", suffix=".time") as f:
        full = ["/usr/bin/time", "-f", "%e %M %U %S", "-o", f.name, *cmd]
        subprocess.run(full, check=True, capture_output=True, env=env)
        wall, kb, user, sys_ = f.read().split()[-4:]
    return {"wall_s": float(wall), "peak_rss_mb": round(int(kb) / 1024, 1),
            "cpu_s": round(float(user) + float(sys_), 2)}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--l", type=int, default=10000)
    ap.add_argument("--shards", type=int, default=4)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "distributed.json"))
    args = ap.parse_args()
    ga = shutil.which("genoattn")
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        x = tmp / "c"
        write_cohort(x, args.n, args.l, args.seed)
        data = ["--bfile", str(x), "--pheno", f"{x}.pheno", "--top", "1000", "--no-progress"]
        cache = timed([ga, "scan", *data, "--out", str(tmp / "warmup.tsv")], env)
        runs = {"one_process": timed([ga, "scan", *data, "--out", str(tmp / "one.tsv")], env)}
        shards = []
        for k in range(1, args.shards + 1):
            out = str(tmp / f"s{k}.parquet")
            shards.append(
                timed([ga, "scan", *data, "--shard", f"{k}/{args.shards}", "--out", out], env)
            )
        parts = [str(tmp / f"s{k}.parquet") for k in range(1, args.shards + 1)]
        merge = timed([ga, "merge", *parts, "--out", str(tmp / "merged.tsv")], env)
        runs["shards"] = shards
        runs["merge"] = merge
        wk = ["--workers", str(args.workers), "--out", str(tmp / "dask.tsv")]
        runs[f"workers_{args.workers}"] = timed([ga, "scan", *data, *wk], env)
        tables = {k: (tmp / f"{k}.tsv").read_bytes() for k in ("one", "merged", "dask")}
        records = {k: (tmp / f"{k}.tsv.scan.json").read_text() for k in tables}
        assert tables["one"] == tables["merged"] == tables["dask"], "tables differ"
        assert records["one"] == records["merged"] == records["dask"], "records differ"
        rec = json.loads(records["one"])
    one = runs["one_process"]["wall_s"]
    mean_shard = float(np.mean([s["wall_s"] for s in shards]))
    k = args.shards
    work = max((one - mean_shard) * k / (k - 1), 1e-9)
    fixed = one - work
    n_tiles = rec["n_tiles"]
    model = {
        "fixed_s": round(fixed, 2),
        "tile_work_s": round(work, 2),
        "tiles": n_tiles,
        "tiles_per_s_per_process": round(n_tiles / work, 2),
        "pairs_per_s_per_process": round(rec["n_pairs"] / work),
        "expected_wall_s_on_K_machines (extrapolated)": {
            K: round(fixed + work / K + merge["wall_s"], 1) for K in (1, 2, 4, 8, 16, 64)
        },
    }
    result = {
        "cohort": {"n_samples": args.n, "n_loci": args.l, "n_pairs": rec["n_pairs"]},
        "cache_build_first_scan": cache,
        "runs": runs,
        "identical_tables_and_records": True,
        "n_tests": rec["n_tests"],
        "scaling_model": model,
        "load_average_at_end": os.getloadavg(),
        "cpu_count": os.cpu_count(),
        "machine": platform.platform(),
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "machine"}, indent=1))


if __name__ == "__main__":
    main()

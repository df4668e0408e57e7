"""Pairwise scan, whole command against whole command: PLINK 1.9 --epistasis vs genoattn scan.

For each seed a cohort with LD (haplotypes from a thresholded AR(1) Gaussian along the
chromosome, one planted product pair) is written as .bed/.bim/.fam + .pheno, then these commands
run as fresh processes (cold start: interpreter, imports, reading the genotypes, writing the
table), interleaved, ``--repeat`` times each, under ``/usr/bin/time`` (wall, peak RSS):

* ``plink1.9 --bfile X --pheno X.pheno --epistasis --epi1 1e-4 --threads T``
* ``genoattn scan --bfile X --pheno X.pheno --test product --p-threshold 1e-4 --top 0``
  (OMP_NUM_THREADS=T), with the encoded-cohort cache present (``cached``) and removed before
  every run (``parse``: reads the .bed and writes the cache, as a first run does).

Both write the same pairs (every pair with P < 1e-4); the script checks that the pair sets are
identical and that BETA_INT / STAT agree to PLINK's printed digits. Reported: the median over
runs per seed, the median over seeds, and the ratio of medians.

Usage: python benchmarks/bench_scan.py [--n 3000] [--l 2729] [--seeds 0 1 2] [--repeat 5]
Writes benchmarks/results/scan.json.
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

from genoattn.contract import Cohort, Dataset, make_loci

EPI = "1e-4"


def simulate(n: int, l: int, rho: float = 0.9, seed: int = 0) -> Dataset:
    """ALT dosages with LD (corr(latent_j, latent_j+1) = rho) and one planted product pair."""
    rng = np.random.default_rng(seed)
    freq = rng.uniform(0.05, 0.5, l)
    thr = np.quantile(rng.normal(size=100_000), 1 - freq)
    haps = []
    for _ in range(2):
        lat = np.empty((n, l), np.float32)
        lat[:, 0] = rng.normal(size=n)
        for j in range(1, l):
            lat[:, j] = rho * lat[:, j - 1] + np.sqrt(1 - rho**2) * rng.normal(size=n)
        haps.append(lat > thr)
    g = (haps[0].astype(np.int8) + haps[1].astype(np.int8)).astype(np.int8)
    a, b = l // 5, 3 * l // 4
    y = 0.6 * g[:, a] * g[:, b] + rng.normal(size=n)
    y = np.array([float(f"{v:.7g}") for v in y], dtype=np.float32)
    loci = make_loci(["1"] * l, 1000 * np.arange(1, l + 1), [f"rs{j}" for j in range(l)],
                     ["G"] * l, ["A"] * l, [["0", "1", "2"]] * l)  # fmt: skip
    cohort = Cohort(g, loci, np.array([f"s{i}" for i in range(n)]))
    return Dataset(cohort, y, np.zeros((n, 0), np.float32), "y", False)


def write_plink(ds: Dataset, prefix: Path) -> None:
    from bed_reader import to_bed

    l = ds.cohort.n_loci
    iid = ds.cohort.samples.tolist()
    props = {
        "fid": iid, "iid": iid, "sid": ds.cohort.loci["id"].to_list(), "chromosome": ["1"] * l,
        "bp_position": ds.cohort.loci["pos"].to_numpy(), "allele_1": ["A"] * l,
        "allele_2": ["G"] * l,
    }  # fmt: skip
    to_bed(f"{prefix}.bed", ds.cohort.states.astype(np.float32), properties=props)
    with open(f"{prefix}.pheno", "w") as f:
        for s, v in zip(iid, ds.y, strict=True):
            f.write(f"{s} {s} {v:.7g}\n")


def timed(cmd: list[str], env: dict | None = None) -> tuple[float, float, float]:
    """Wall seconds, peak RSS (MB) and CPU seconds (user + sys) of one fresh process, measured
    by /usr/bin/time (CPU time is the figure that a busy shared machine disturbs least)."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as f:
        full = ["/usr/bin/time", "-f", "%e %M %U %S", "-o", f.name, *cmd]
        subprocess.run(full, check=True, capture_output=True, env=env)
        wall, kb, user, sys_ = f.read().split()[-4:]
    return float(wall), int(kb) / 1024, float(user) + float(sys_)


def plink_pairs(path: Path) -> dict[tuple[str, str], tuple[float, float]]:
    out = {}
    for line in path.read_text().splitlines()[1:]:
        f = line.split()
        out[(f[1], f[3])] = (float(f[4]), float(f[5]))
    return out


def same_output(plink_epi: Path, ours: Path) -> dict:
    """Same pair set; BETA_INT and STAT to PLINK's 4th significant digit."""
    import polars as pl

    theirs = plink_pairs(plink_epi)
    tab = pl.read_csv(ours, separator="\t")
    id_a, id_b = [c for c in tab.columns if "id" in c.lower()][:2]
    beta = next(c for c in tab.columns if "BETA" in c.upper())
    stat = next(c for c in tab.columns if c.upper() == "STAT")
    mine = {(r[id_a], r[id_b]): (r[beta], r[stat]) for r in tab.iter_rows(named=True)}
    agree = 0
    for k, (b, s) in theirs.items():
        if k in mine:
            mb, ms = mine[k]
            agree += abs(mb - b) <= 6e-4 * abs(b) + 1e-9 and abs(ms - s) <= 6e-4 * abs(s)
    return {"plink_pairs": len(theirs), "genoattn_pairs": len(mine),
            "same_pair_set": set(theirs) == set(mine), "stats_agree": agree}  # fmt: skip


def bench_seed(args, seed: int, tmp: Path) -> dict:
    prefix = tmp / f"c{seed}"
    write_plink(simulate(args.n, args.l, seed=seed), prefix)
    env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "OMP_WAIT_POLICY": "PASSIVE"}
    plink = ["plink1.9", "--bfile", str(prefix), "--pheno", f"{prefix}.pheno", "--epistasis",
             "--epi1", EPI, "--allow-no-sex", "--keep-allele-order", "--threads",
             str(args.threads), "--out", str(prefix)]  # fmt: skip
    ours_out = tmp / f"g{seed}.tsv"
    ours = [shutil.which("genoattn"), "scan", "--bfile", str(prefix), "--pheno",
            f"{prefix}.pheno", "--test", "product", "--p-threshold", EPI, "--top", "0",
            "--out", str(ours_out), "--no-progress"]  # fmt: skip
    cache = Path(f"{prefix}.genoattn_cache")
    runs: dict[str, list] = {"plink": [], "genoattn_cached": [], "genoattn_parse": []}
    timed(ours, env)  # builds the cache once
    for _ in range(args.repeat):
        runs["plink"].append(timed(plink))
        runs["genoattn_cached"].append(timed(ours, env))
        shutil.rmtree(cache, ignore_errors=True)
        runs["genoattn_parse"].append(timed(ours, env))
    check = same_output(Path(f"{prefix}.epi.qt"), ours_out)
    med = {k: float(np.median([r[0] for r in v])) for k, v in runs.items()}
    rss = {k: float(max(r[1] for r in v)) for k, v in runs.items()}
    cpu = {k: float(np.median([r[2] for r in v])) for k, v in runs.items()}
    print(f"seed {seed}: " + ", ".join(f"{k} {med[k]:.2f} s / {rss[k]:.0f} MB" for k in med))
    return {"seed": seed, "median_seconds": med, "median_cpu_seconds": cpu, "peak_rss_mb": rss,
            "runs": runs, **check}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=3000)
    ap.add_argument("--l", type=int, default=2729)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", default=str(Path(__file__).parent / "results" / "scan.json"))
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        seeds = [bench_seed(args, s, Path(tmp)) for s in args.seeds]
    keys = seeds[0]["median_seconds"]
    med = {k: float(np.median([s["median_seconds"][k] for s in seeds])) for k in keys}
    ratio = {k: round(med["plink"] / v, 2) for k, v in med.items()}
    cpu = {k: float(np.median([s["median_cpu_seconds"][k] for s in seeds])) for k in keys}
    rss = {k: float(max(s["peak_rss_mb"][k] for s in seeds)) for k in keys}
    version = subprocess.run(["plink1.9", "--version"], capture_output=True, text=True).stdout
    result = {
        "cohort": {"n_samples": args.n, "n_loci": args.l, "n_pairs": args.l * (args.l - 1) // 2},
        "threads": args.threads,
        "commands": {
            "plink": f"plink1.9 --bfile X --pheno X.pheno --epistasis --epi1 {EPI} "
            f"--allow-no-sex --keep-allele-order --threads {args.threads} --out X",
            "genoattn": f"OMP_NUM_THREADS={args.threads} genoattn scan --bfile X --pheno "
            f"X.pheno --test product --p-threshold {EPI} --top 0 --out X.tsv --no-progress",
        },
        "median_seconds_over_seeds": med,
        "speedup_vs_plink": ratio,
        "median_cpu_seconds_over_seeds": cpu,
        "cpu_time_ratio_vs_plink": {k: round(cpu["plink"] / v, 2) for k, v in cpu.items()},
        "peak_rss_mb": rss,
        "load_average_at_end": os.getloadavg(),
        "plink_version": version.strip(),
        "machine": platform.platform(),
        "seeds": seeds,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    print(f"median over seeds: {med}; speed-up vs plink: {ratio}; peak RSS MB {rss}")
    print(f"CPU seconds: {cpu}; wrote {args.out}")


if __name__ == "__main__":
    main()

"""Scale benchmark (issue 8): whole commands under ``/usr/bin/time -v``, peak RSS beside wall time.

    # (a) the GB1 double-mutant library of the mavenn 1.1.4 wheel: fit on the official training +
    #     validation sequences (validation = the official validation set's size), predict the
    #     official test set (genoattn predict --fasta), held-out R^2 there
    python benchmarks/bench_scale.py gb1 [--wheel mavenn-1.1.4-py3-none-any.whl]
            [--models additive,default]
    # (b) simulated cohorts: fit + export per n x L cell
    python benchmarks/bench_scale.py sim --cells 5000x10000,10000x10000,10000x20000 [--seeds 1]
            [--compare-src DIR]   # also run the same fit with the package at DIR (e.g. the
                                  # pre-operator code) and record its figures beside
    python benchmarks/bench_scale.py growth --work DIR   # per-doubling CPU growth by stage
    python benchmarks/bench_scale.py plot

Without ``--wheel`` the wheel is fetched with ``pip download --no-deps mavenn==1.1.4`` into the
cache folder. The GB1 table is read from the wheel with zipfile (mavenn is not imported); its
``set`` column gives the official split (training / validation / test), ``x`` the 55-residue
sequence and ``y`` the enrichment score. Results are merged into benchmarks/results/scale.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "scale.json"


def measure(cmd: list[str], log: Path, env: dict | None = None) -> dict:
    """Run ``cmd`` under /usr/bin/time -v; wall seconds, peak RSS (GB), exit code."""
    full = ["/usr/bin/time", "-v", "nice", "-n", "10", *cmd]
    load0 = [round(v, 2) for v in os.getloadavg()]
    with open(log, "w") as fh:
        rc = subprocess.run(full, stdout=fh, stderr=subprocess.STDOUT, env=env).returncode
    text = log.read_text()
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    cpu = [float(v) for v in re.findall(r"(?:User|System) time \(seconds\): ([\d.]+)", text)]
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): ([\d:.]+)", text)
    secs = 0.0
    if wall:
        for part in wall.group(1).split(":"):
            secs = secs * 60 + float(part)
    return {
        "cmd": " ".join(cmd),
        "rc": rc,
        "wall_s": round(secs, 1),
        "peak_rss_gb": round(int(rss.group(1)) / 2**20, 3) if rss else None,
        "cpu_s": round(sum(cpu), 1),
        "load_avg_1_5_15": [round(v, 2) for v in os.getloadavg()],
        "load_avg_1_5_15_start": load0,
    }


def merge(key: str, value) -> None:
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    data = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    data[key] = value
    RESULTS.write_text(json.dumps(data, indent=1) + "\n")


def fetch_wheel(cache: Path) -> Path:
    found = sorted(cache.glob("mavenn-1.1.4-*.whl"))
    if not found:
        cache.mkdir(parents=True, exist_ok=True)
        pip = [sys.executable, "-m", "pip", "download", "--no-deps", "mavenn==1.1.4", "-d"]
        subprocess.run([*pip, str(cache)], check=True)
        found = sorted(cache.glob("mavenn-1.1.4-*.whl"))
    return found[0]


def run_gb1(args) -> None:
    """Whole ``fit`` (official training + validation) and ``predict`` (official test) commands."""
    sys.path.insert(0, str(HERE))
    from bench_mave import r2, read_dataset, write_inputs

    work = Path(args.work) / "gb1_official"
    wheel = Path(args.wheel) if args.wheel else fetch_wheel(Path(args.cache))
    info = write_inputs(read_dataset(wheel, "gb1", 0, None), work)
    old = json.loads(RESULTS.read_text()).get("gb1", {}) if RESULTS.exists() else {}
    out = {**old, "data": info, "wheel": wheel.name}
    cfg = work / "split.json"
    val = info["n_val"] / (info["n_train"] + info["n_val"])
    train = {"val_fraction": val, "test_fraction": 0.0, "accelerator": "cpu", "seed": 0}
    cfg.write_text(json.dumps({"train": train}))
    z = np.load(work / "data.npz", allow_pickle=False)
    truth = dict(zip(z["ids"].tolist(), z["y"].tolist(), strict=True))
    for model in args.models.split(","):
        run = work / f"run_{model}"
        cmd = [
            "genoattn",
            "fit",
            "--fasta",
            str(work / "fit.fa"),
            "--pheno",
            str(work / "pheno.tsv"),
        ]
        cmd += ["--config", str(cfg), "--out", str(run), "--overwrite", "--no-progress"]
        if model != "default":
            cmd += ["--model", model]
        res = measure(cmd, work / f"fit_{model}.log")
        res.update(_metrics(run))
        res["log_tail"] = [
            ln for ln in (work / f"fit_{model}.log").read_text().splitlines() if "auto" in ln
        ][-12:]
        pred = work / f"pred_{model}.tsv"
        cmd = [
            "genoattn",
            "predict",
            str(run),
            "--fasta",
            str(work / "test.fa"),
            "--out",
            str(pred),
        ]
        res["predict"] = measure([*cmd, "--no-progress"], work / f"predict_{model}.log")
        if pred.exists():
            table = pl.read_csv(pred, separator="\t")
            y = np.array([truth[i] for i in table["IID"].to_list()])
            res["official_test_r2"] = r2(y, table["PRED"].to_numpy())
        out[f"fit_{model}"] = res
        print(model, json.dumps({k: v for k, v in res.items() if k != "log_tail"}))
        merge("gb1", out)


def _metrics(run: Path) -> dict:
    m = run / "metrics.json"
    if not m.exists():
        return {}
    d = json.loads(m.read_text())
    out = {"val_r2": d["val"]["r2"], "fit_seconds": d["seconds"]}
    if "test" in d:
        out["test_r2"] = d["test"]["r2"]
    if "additive" in d and "test" in d["additive"]:
        out["additive_test_r2"] = d["additive"]["test"]["r2"]
    if "auto" in d:
        out["auto"] = d["auto"]
    return out


def _recovered(table: Path, truth: Path) -> tuple[int, int]:
    """Planted pairs (truth.tsv, order 2) found by id among the exported (clumped) top 10."""
    if not table.exists():
        return 0, 0
    t = pl.read_csv(truth, separator="\t").filter(pl.col("order") == 2)
    planted = {frozenset((a, b)) for a, b in t.select("id_a", "id_b").iter_rows()}
    got = pl.read_csv(table, separator="\t").head(10)
    ids = ("ID_A", "ID_B") if "ID_A" in got.columns else ("id_a", "id_b")  # table schema v1 / v0
    found = {frozenset((a, b)) for a, b in got.select(*ids).iter_rows()}
    return len(planted & found), len(planted)


def run_cell(n: int, l: int, seed: int, work: Path, src: str | None) -> dict:
    sim = work / f"sim_{n}x{l}_s{seed}"
    if not (sim / "pheno.tsv").exists():
        cmd = ["genoattn", "simulate", "--out", str(sim), "--samples", str(n)]
        subprocess.run([*cmd, "--loci", str(l), "--seed", str(seed)], check=True)
    tag = "ref" if src else "new"
    env = dict(os.environ, PYTHONPATH=src) if src else None
    run = work / f"run_{n}x{l}_s{seed}_{tag}"
    fit = ["genoattn", "fit", "--vcf", str(sim / "cohort.vcf.gz"), "--pheno"]
    fit += [str(sim / "pheno.tsv"), "--covar", str(sim / "covar.tsv"), "--out", str(run)]
    res = {"n": n, "L": l, "seed": seed, "code": tag}
    # the first fit parses the VCF into the cache; time the fit on the cached genotypes
    res["fit"] = measure([*fit, "--overwrite", "--no-progress"], work / f"{run.name}.fit.log", env)
    res.update(_metrics(run))
    table = run / "epistasis.tsv"
    exp = ["genoattn", "export", str(run), "--out", str(table), "--top", "10"]
    res["export"] = measure(exp, work / f"{run.name}.export.log", env)
    res["planted_found_top10"], res["planted"] = _recovered(table, sim / "truth.tsv")
    print(json.dumps(res))
    return res


def run_sim(args) -> None:
    work = Path(args.work) / "sim"
    work.mkdir(parents=True, exist_ok=True)
    data = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    cells = {(c["n"], c["L"], c["seed"], c["code"]): c for c in data.get("sim", [])}
    for cell in args.cells.split(","):
        n, l = (int(v) for v in cell.split("x"))
        for seed in range(1, args.seeds + 1):
            for src in [None, args.compare_src] if args.compare_src else [None]:
                res = run_cell(n, l, seed, work, src)
                cells[(n, l, seed, res["code"])] = res
                merge("sim", sorted(cells.values(), key=lambda c: (c["n"], c["L"], c["code"])))


def run_gpu(args) -> None:
    """Screening and the staged fit of a simulated cohort on the GPU (pair x samples / s)."""
    import time

    import torch

    from genoattn.config import SparseFitConfig
    from genoattn.simulate import SimConfig, simulate
    from genoattn.sparse import fit_contrasts, fit_sparse_sa, screen_pairs
    from genoattn.sparse.screen import StateContrasts

    dev = torch.device("cuda")
    sim = simulate(SimConfig(n_samples=args.n, n_loci=args.loci, seed=1))
    c = sim.cohort
    n_tr = int(0.8 * c.n_samples)
    tr = np.arange(n_tr)
    con = fit_contrasts(c.states[tr], c.n_states, 3)
    st = torch.as_tensor(c.states).to(dev)  # int8 on the device
    y = torch.as_tensor(sim.trait.values, dtype=torch.float32, device=dev)
    y = (y - y[tr].mean()) / y[tr].std()
    table = torch.as_tensor(con.locus, device=dev)
    src = StateContrasts(st[:n_tr], table)
    out = {"n_train": n_tr, "loci": c.n_loci, "device": torch.cuda.get_device_name()}
    for _ in range(2):  # the first call warms up kernels
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        screen_pairs(src, y[:n_tr] - y[:n_tr].mean(), con.n_active, 300, 2048, 0.2)
        torch.cuda.synchronize()
        sec = time.perf_counter() - t0
    n_pairs = c.n_loci * (c.n_loci - 1) / 2
    out["screen_s"] = sec
    out["screen_pair_samples_per_s"] = n_pairs * n_tr / sec
    cov = torch.zeros(c.n_samples, 0, device=dev)
    t0 = time.perf_counter()
    sol = fit_sparse_sa(
        st[:n_tr],
        y[:n_tr],
        cov[:n_tr],
        st[n_tr:],
        y[n_tr:],
        cov[n_tr:],
        con,
        "mse",
        SparseFitConfig(),
        log=lambda s: None,
    )
    torch.cuda.synchronize()
    out["fit_s"] = time.perf_counter() - t0
    out["fit_pairs"] = len(sol.pairs)
    out |= scan_rate(sim, "cuda")
    out["peak_gpu_gb"] = torch.cuda.max_memory_allocated() / 2**30
    print(json.dumps(out))
    merge("gpu", out)


#: Published record of a 2-way scan on one GPU (case-control, binarised genotypes, no
#: covariates; tensor cores), in pair x samples per second (issue 8).
RECORD_PAIR_SAMPLES_PER_S = 6.5e13


def scan_rate(sim, device: str) -> dict:
    """The whole 1-df product scan (``run_scan``: every pair, with the simulation's covariates)
    of a simulated cohort on ``device``: seconds and pair x samples per second, second of two
    runs (the first warms up kernels), against the published tensor-core record."""
    import time

    import torch

    from genoattn.data.align import align
    from genoattn.interpret.scan.engine import run_scan

    ds = align(sim.cohort, sim.trait, "g", "p")[0]
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    for _ in range(2):
        sync()
        t0 = time.perf_counter()
        run_scan(ds, "product", top=1000, device=device, log=lambda *a: None)
        sync()
        sec = time.perf_counter() - t0
    l, n = ds.cohort.n_loci, ds.cohort.n_samples
    rate = l * (l - 1) / 2 * n / sec
    return {"scan_product_s": sec, "scan_covariates": int(ds.covariates.shape[1]),
            "scan_pair_samples_per_s": rate,
            "scan_ratio_to_record": rate / RECORD_PAIR_SAMPLES_PER_S}  # fmt: skip


NON_SCREENING = ("load", "prepare", "baseline", "fit.main_effects", "fit.pairs", "fit.relax",
                 "fit.refit", "score", "save")  # fmt: skip


def growth(args) -> None:
    """Per-doubling growth of the fit's CPU seconds, stage by stage (run.json of every cell's
    run directory under --work): pair screening against everything else. Merged into
    scale.json as ``sim_growth``; the cells' records gain their run.json stage times."""
    data = json.loads(RESULTS.read_text())
    cells = [c for c in data.get("sim", []) if c["code"] == "new" and c["fit"]["rc"] == 0]
    runs = Path(args.work) / "sim"
    for c in cells:
        info = runs / f"run_{c['n']}x{c['L']}_s{c['seed']}_new" / "run.json"
        if info.exists():
            res = json.loads(info.read_text())["resources"]
            c["stages_s"], c["stages_cpu_s"] = res["stages_s"], res.get("stages_cpu_s")
    timed = {(c["n"], c["L"]): c for c in cells if c.get("stages_cpu_s")}

    def parts(c: dict) -> dict:
        cpu = c["stages_cpu_s"]
        rest = sum(cpu.get(k, 0.0) for k in NON_SCREENING)
        return {"screening": cpu.get("fit.screening", 0.0), "everything_else": rest,
                "main_effects": cpu.get("fit.main_effects", 0.0),
                "pairs": cpu.get("fit.pairs", 0.0), "whole_fit": c["fit"]["cpu_s"]}  # fmt: skip

    steps = []
    for (n, l), c in sorted(timed.items()):
        for nxt, axis in (((2 * n, l), "n"), ((n, 2 * l), "L")):
            if nxt in timed:
                a, b = parts(c), parts(timed[nxt])
                ratio = {k: round(b[k] / a[k], 2) if a[k] else None for k in a}
                steps.append({"from": f"{n}x{l}", "to": f"{nxt[0]}x{nxt[1]}", "doubles": axis,
                              "cpu_s_from": a, "cpu_s_to": b, "ratio": ratio})  # fmt: skip
                print(f"{n}x{l} -> {nxt[0]}x{nxt[1]} ({axis} doubles): {ratio}")
    merge("sim", data["sim"])
    merge("sim_growth", steps)


def plot(_args) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    data = json.loads(RESULTS.read_text())
    fig, ax = plt.subplots(1, 2, figsize=(10, 4))
    for code, marker in (("new", "o"), ("ref", "x")):
        cells = [c for c in data.get("sim", []) if c["code"] == code and c["fit"]["rc"] == 0]
        if not cells:
            continue
        x = np.array([c["n"] * c["L"] for c in cells], dtype=float)
        ax[0].scatter(x, [c["fit"]["wall_s"] for c in cells], marker=marker, label=code)
        ax[1].scatter(x, [c["fit"]["peak_rss_gb"] for c in cells], marker=marker, label=code)
    for name, mk in (("fit_default", "s"), ("fit_sa", "D"), ("fit_additive", "^")):
        g = data.get("gb1", {}).get(name)
        if g and g.get("rc") == 0:
            info = data["gb1"]["data"]
            x = (info["n_train"] + info["n_val"]) * info["length"]
            ax[0].scatter([x], [g["wall_s"]], marker=mk, label=f"GB1 {name[4:]}")
            ax[1].scatter([x], [g["peak_rss_gb"]], marker=mk, label=f"GB1 {name[4:]}")
    for a, lab in zip(ax, ["fit wall time (s)", "fit peak RSS (GB)"], strict=True):
        a.set_xscale("log")
        a.set_xlabel("samples x loci")
        a.set_ylabel(lab)
        a.legend()
    fig.tight_layout()
    fig.savefig(RESULTS.with_suffix(".png"), dpi=120)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = ap.add_subparsers(dest="what", required=True)
    g = sub.add_parser("gb1")
    g.add_argument("--wheel", default=None)
    g.add_argument("--cache", default=str(Path.home() / ".cache" / "genoattn-bench"))
    g.add_argument("--models", default="additive,default")
    s = sub.add_parser("sim")
    s.add_argument("--cells", default="5000x10000,10000x10000,10000x20000")
    s.add_argument("--seeds", type=int, default=1)
    s.add_argument("--compare-src", default=None)
    sub.add_parser("plot")
    gr = sub.add_parser("growth")
    gp = sub.add_parser("gpu")
    gp.add_argument("--n", type=int, default=20000)
    gp.add_argument("--loci", type=int, default=5000)
    for p in (g, s, gr):
        p.add_argument("--work", default="/tmp/genoattn-bench-scale")
    args = ap.parse_args()
    run = {"gb1": run_gb1, "sim": run_sim, "plot": plot, "gpu": run_gpu, "growth": growth}
    run[args.what](args)


if __name__ == "__main__":
    main()

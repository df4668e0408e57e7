"""Genotype benchmark 2(b): simulated cohorts with planted interactions of every kind.

For each method: clumped recall@10 of the planted pairs, held-out R^2 against the additive
baseline and the oracle (the variance the planted model explains on the test samples), and wall
time. Methods: SA_lin (sparse fit), HyperAttention (sparse, order 3), SA_lin trained by AdamW
(the paper's factorised parametrisation), the exhaustive 4-df and 1-df scans, and PLINK 1.9
``--epistasis`` when installed.

A planted pair counts as found in a top-10 list when a row holds both of its loci, or loci in LD
with them (r^2 >= 0.5 either way round): the clumping rule.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from genoattn.bench.common import markdown_table, write_outputs
from genoattn.config import FitConfig, from_dict
from genoattn.contract import Dataset
from genoattn.interpret.clump import clump, ld_r2
from genoattn.system.metrics import r2_score


def recall_at(found: np.ndarray, planted: np.ndarray, r2: np.ndarray, k: int = 10) -> float:
    """Share of planted pairs (p, 2) matched by a row among the first k of ``found`` (f, 2)."""
    hits = 0
    top = found[:k]
    for a, b in planted:
        ok = ((r2[top[:, 0], a] >= 0.5) & (r2[top[:, 1], b] >= 0.5)) | (
            (r2[top[:, 0], b] >= 0.5) & (r2[top[:, 1], a] >= 0.5)
        )
        hits += bool(ok.any())
    return hits / max(len(planted), 1)


def _plink_epistasis(ds: Dataset, workdir: Path) -> tuple[np.ndarray, float, str] | None:
    """Run plink1.9 --epistasis on the cohort; (pairs ranked by P, seconds, version) or None."""
    exe = shutil.which("plink1.9") or shutil.which("plink")
    if exe is None:
        return None
    from bed_reader import to_bed

    prefix = workdir / "cohort"
    st = np.asarray(ds.cohort.states).astype(np.float32)
    st[st < 0] = np.nan
    loci = ds.cohort.loci
    to_bed(
        str(prefix) + ".bed",
        st,
        properties={
            "iid": ds.cohort.samples.astype(str),
            "fid": ds.cohort.samples.astype(str),
            "sid": loci["id"].to_numpy(),
            "chromosome": loci["chrom"].to_numpy(),
            "bp_position": loci["pos"].to_numpy(),
            "allele_1": loci["alt"].to_numpy(),
            "allele_2": loci["ref"].to_numpy(),
        },
        count_A1=True,
    )
    pl.DataFrame(
        {"FID": ds.cohort.samples.astype(str), "IID": ds.cohort.samples.astype(str), "y": ds.y}
    ).write_csv(workdir / "y.pheno", separator="\t")
    version = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout.strip()
    t0 = time.perf_counter()
    subprocess.run(
        [
            exe,
            "--bfile",
            str(prefix),
            "--pheno",
            str(workdir / "y.pheno"),
            "--epistasis",
            "--epi1",
            "1",
            "--allow-no-sex",
            "--threads",
            "2",
            "--out",
            str(workdir / "epi"),
        ],
        capture_output=True,
        check=True,
    )
    secs = time.perf_counter() - t0
    # PLINK pads columns with runs of spaces
    text = (workdir / "epi.epi.qt").read_text().split("\n")
    rows = [ln.split() for ln in text[1:] if ln.strip()]
    header = text[0].split()
    frame = pl.DataFrame(rows, schema=header, orient="row")
    pos = {s: i for i, s in enumerate(loci["id"].to_list())}
    frame = frame.with_columns(pl.col("P").cast(pl.Float64)).sort("P")
    pairs = np.array(
        [
            [pos[a], pos[b]]
            for a, b in zip(
                frame["SNP1"].to_list()[:2000], frame["SNP2"].to_list()[:2000], strict=True
            )
        ]
    )
    return pairs, secs, version


def sim_config(quick: bool, seed: int):
    """The benchmark cohort: the brief's 3,000 x 2,729 (six planted pairs) or a quick one."""
    from genoattn.simulate import SimConfig

    if quick:
        return SimConfig(n_samples=1000, n_loci=300, seed=seed)
    # the brief's cohort: 3,000 x 2,729, six planted pairs, 40% of variance genetic
    return SimConfig(
        n_samples=3000,
        n_loci=2729,
        n_chrom=3,
        pairs=["product", "dominance", "pure"] * 2,
        h2_pair=0.05,
        n_additive=20,
        h2_additive=0.1,
        seed=seed,
    )


#: the fitted methods of the benchmark: name, model section
_MODELS = (
    ("SA_lin (sparse)", {"kind": "sa", "fit": "sparse"}),
    ("HyperAttention (sparse)", {"kind": "ha", "fit": "sparse"}),
    ("SA_lin (AdamW, rank 16)", {"kind": "sa", "fit": "sgd", "rank": 16}),
    ("additive", {"kind": "additive", "fit": "sparse"}),
)


def _model_rows(ds, planted, r2, quick: bool, seed: int, tmp: Path):
    """One row per fitted method (recall@10 of its export, R^2), and the run's test rows."""
    from genoattn.config import ExportConfig
    from genoattn.interpret.export import export
    from genoattn.system.fit import fit
    from genoattn.system.rundir import load_run

    rows, test_rows = [], None
    epochs = 30 if quick else 40
    for name, model in _MODELS:
        train = {"seed": seed, "progress": False, "max_epochs": epochs, "weight_decay": 1e-4}
        cfg = from_dict(FitConfig, {"model": model, "train": train})
        run_dir = tmp / name.split()[0].replace("/", "")
        t0 = time.perf_counter()
        res = fit(ds, cfg, run_dir, overwrite=True, baseline=False, log=lambda s: None)
        secs = time.perf_counter() - t0
        run = load_run(run_dir)
        test_rows = run.split["test"]
        rec = float("nan")
        if model["kind"] != "additive":
            exp = export(run, ds, ExportConfig(top=10), log=lambda s: None)
            rec = recall_at(exp.pairs, planted, r2)
        splits = res.metrics.splits
        rows.append(_row(name, rec, splits["test"]["r2"], splits["train"]["r2"], secs))
    return rows, test_rows


def _row(method: str, recall: float, test_r2: float, train_r2: float, seconds: float) -> dict:
    return {"method": method, "recall@10": recall, "test_r2": test_r2, "train_r2": train_r2,
            "seconds": seconds}  # fmt: skip


def _scan_rows(ds, planted, r2, tmp: Path) -> list[dict]:
    """Rows of the exhaustive scans (4-df and 1-df) and of PLINK --epistasis when installed."""
    from genoattn.interpret.scan import scan

    rows, nan = [], float("nan")
    for test in ("genotype", "product"):
        t0 = time.perf_counter()
        tab = clump(scan(ds, test, top=2000, progress=False, log=lambda s: None), ds.cohort)
        secs = time.perf_counter() - t0
        found = tab.select("idx_a", "idx_b").to_numpy()
        name = f"exhaustive scan ({'4-df' if test == 'genotype' else '1-df'})"
        rows.append(_row(name, recall_at(found, planted, r2), nan, nan, secs))
    plink = _plink_epistasis(ds, tmp)
    if plink is not None:
        pairs, secs, version = plink
        frame = pl.DataFrame({"idx_a": pairs[:, 0], "idx_b": pairs[:, 1]})
        found = clump(frame, ds.cohort).select("idx_a", "idx_b").to_numpy()
        name = f"PLINK --epistasis ({version.split()[1] if version else ''})"
        rows.append(_row(name, recall_at(found, planted, r2), nan, nan, secs))
    return rows


def _table(rows: list[dict], oracle: float, planted: np.ndarray, truth: pl.DataFrame) -> str:
    header = ["method", "recall@10 (clumped)", "test R^2", "test R^2 / oracle", "train R^2",
              "seconds"]  # fmt: skip
    keys = ("method", "recall@10", "test_r2", "test_r2_over_oracle", "train_r2", "seconds")
    table = markdown_table(header, [[r[k] for k in keys] for r in rows])
    return table + (
        f"\n\nOracle test R^2 (planted model on the test samples): {oracle:.3f}; "
        f"{len(planted)} planted pairs ({', '.join(truth['kind'].to_list())})."
    )


def run_cohort(quick: bool, out_dir: Path, seed: int = 0) -> dict[str, Any]:
    """Simulate, fit every method, score recall and held-out R^2, write the outputs."""
    from genoattn.simulate import simulate

    sim_cfg = sim_config(quick, seed)
    sim = simulate(sim_cfg)
    ds = sim.dataset()
    truth = sim.truth.filter(pl.col("order") == 2)
    planted = truth.select("locus_a", "locus_b").to_numpy().astype(np.int64)
    r2 = ld_r2(np.asarray(sim.cohort.states))
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        rows, te = _model_rows(ds, planted, r2, quick, seed, Path(tmp))
        rows += _scan_rows(ds, planted, r2, Path(tmp))
    signal = sim.genetic_value + sim.covariate_value
    y = ds.y.astype(np.float64)
    oracle = r2_score(y[te], signal[te] + (y[te] - signal[te]).mean())
    for r in rows:
        r["test_r2_over_oracle"] = (
            r["test_r2"] / oracle if np.isfinite(r["test_r2"]) else float("nan")
        )
    settings = {
        "quick": quick,
        "n_samples": sim_cfg.n_samples,
        "n_loci": sim_cfg.n_loci,
        "pairs": sim_cfg.pairs,
        "h2_pair": sim_cfg.h2_pair,
        "seed": seed,
    }
    metrics = {"methods": rows, "oracle_test_r2": oracle}
    table = _table(rows, oracle, planted, truth)
    return write_outputs(out_dir, "genotype-cohort", settings, metrics, table)

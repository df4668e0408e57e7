"""Logistic product scan for case/control traits: naive per-sample IRLS and PLINK 1.9's OR_INT."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
from test_scan import _plink_files, _same_to_4_digits, make_dataset

from genoattn.contract import MISSING, Dataset
from genoattn.interpret.scan import run_scan


def case_control(n=500, l=14, seed=0, missing=0.02, c=0):
    ds = make_dataset(n=n, l=l, seed=seed, missing=missing, c=c)
    g = np.where(ds.cohort.states == MISSING, 0, ds.cohort.states).astype(float)
    rng = np.random.default_rng(seed + 100)
    b = min(9, l - 1)
    eta = -0.4 + 0.7 * g[:, 2] * g[:, b] - 0.3 * g[:, 2]
    y = (rng.random(n) < 1 / (1 + np.exp(-eta))).astype(np.float32)
    return Dataset(ds.cohort, y, ds.covariates, "y", True)


def naive_logistic(ds, a, b):
    """Newton-Raphson on the samples called at both loci: b3, its SE, Wald STAT."""
    st = ds.cohort.states
    keep = (st[:, a] != MISSING) & (st[:, b] != MISSING)
    ga, gb = st[keep, a].astype(float), st[keep, b].astype(float)
    x = np.column_stack([np.ones(keep.sum()), ga, gb, ga * gb])
    y = ds.y[keep].astype(float)
    beta = np.zeros(4)
    for _ in range(100):
        p = 1 / (1 + np.exp(-x @ beta))
        h = x.T @ (x * (p * (1 - p))[:, None])
        step = np.linalg.solve(h, x.T @ (y - p))
        beta += step
        if np.abs(step).max() < 1e-12:
            break
    p = 1 / (1 + np.exp(-x @ beta))
    se = np.sqrt(np.linalg.inv(x.T @ (x * (p * (1 - p))[:, None]))[3, 3])
    return beta[3], se, (beta[3] / se) ** 2


def test_logistic_scan__matches_naive_irls_per_sample():
    ds = case_control(seed=3)
    logs = []
    res = run_scan(ds, "product", top=None, log=logs.append).table
    assert any("logistic product test" in m for m in logs)
    assert res.height == 14 * 13 // 2 and "OR_INT" in res.columns
    for r in res.iter_rows(named=True):
        beta, se, stat = naive_logistic(ds, r["idx_a"], r["idx_b"])
        np.testing.assert_allclose([r["BETA_INT"], r["SE"], r["STAT"]], [beta, se, stat], rtol=1e-7)
        np.testing.assert_allclose(r["OR_INT"], np.exp(beta), rtol=1e-7)
    assert (res["idx_a"][0], res["idx_b"][0]) == (2, 9)


def test_logistic_scan__separation_is_nan_and_covariates_fall_back_to_linear():
    ds = case_control(n=300, l=6, seed=5, missing=0.0)
    y = ds.y.copy()
    y[ds.cohort.states[:, 0] * ds.cohort.states[:, 1] > 0] = 1.0  # b3 -> infinity separates
    ds = Dataset(ds.cohort, y, ds.covariates, "y", True)
    run = run_scan(ds, "product", top=None, log=lambda *_: None)
    assert run.n_tests == 6 * 5 // 2 - 1 and (0, 1) not in set(
        zip(run.table["idx_a"].to_list(), run.table["idx_b"].to_list(), strict=True)
    )
    logs = []
    lin = run_scan(case_control(l=12, c=2), "product", top=None, log=logs.append)
    assert "OR_INT" not in lin.table.columns and any("linear model" in m for m in logs)


@pytest.mark.plink
@pytest.mark.skipif(shutil.which("plink1.9") is None, reason="plink1.9 not installed")
def test_logistic_scan__equals_plink_epistasis_case_control(tmp_path):
    ds = case_control(n=600, l=20, seed=11)
    coded = Dataset(ds.cohort, ds.y + 1, ds.covariates, "y", True)  # PLINK 1 = control, 2 = case
    prefix = _plink_files(tmp_path, coded)
    out = str(tmp_path / "o")
    cmd = ["plink1.9", "--bfile", str(prefix), "--pheno", f"{prefix}.pheno", "--epistasis",
           "--epi1", "1", "--allow-no-sex", "--keep-allele-order", "--out", out]  # fmt: skip
    subprocess.run(cmd, check=True, capture_output=True)
    plink = {}
    for line in (tmp_path / "o.epi.cc").read_text().splitlines()[1:]:
        f = line.split()
        plink[(int(f[1][2:]), int(f[3][2:]))] = [float(v) for v in f[4:7]]
    ours = run_scan(ds, "product", top=None, log=lambda *_: None).table
    assert ours.height == len(plink) == 20 * 19 // 2
    for r in ours.iter_rows(named=True):
        odds, stat, p = plink[(r["idx_a"], r["idx_b"])]
        # PLINK prints up to 6 significant digits; agree to its 4th, as the linear test does
        # (and near-null STAT to 1e-4 absolute: PLINK's own round-off at STAT ~ 1e-4)
        ok = _same_to_4_digits(np.array([r["OR_INT"], r["STAT"]]), np.array([odds, stat]))
        assert ok[0] and (ok[1] or abs(r["STAT"] - stat) < 1e-4), (r, odds, stat)
        # P to 4 digits, up to PLINK 1.9's own chi-square tail drift (see test_scan)
        assert abs(r["P"] / p - 1) < max(6e-4, 1e-5 * stat**2), (r, p)

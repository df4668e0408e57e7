"""Pairwise scan: against naive per-pair OLS, planted pairs, and PLINK 1.9 --epistasis itself."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
from scipy import stats

from genoattn.contract import MISSING, Cohort, Dataset, make_loci
from genoattn.interpret.scan import scan, scan_pairs


def make_dataset(n=150, l=9, c=0, missing=0.0, seed=0, planted=None, dominance=None):
    """Seeded cohort: dosages with varied allele frequencies, y = noise (+ planted terms)."""
    rng = np.random.default_rng(seed)
    freq = rng.uniform(0.15, 0.5, l)
    g = rng.binomial(2, freq, size=(n, l)).astype(np.int8)
    z = rng.normal(size=(n, c)).astype(np.float32)
    y = rng.normal(size=n) + (z @ rng.normal(size=c) if c else 0.0)
    if planted:
        a, b = planted
        y = y + 0.8 * g[:, a] * g[:, b]
    if dominance:  # pure epistasis between heterozygotes: invisible to the product term
        a, b = dominance
        y = y + 1.5 * ((g[:, a] == 1) & (g[:, b] == 1))
    g[rng.random((n, l)) < missing] = MISSING
    loci = make_loci(
        ["1"] * l, 1000 * np.arange(1, l + 1), [f"rs{j}" for j in range(l)], ["G"] * l,
        ["A"] * l, [["0", "1", "2"]] * l,
    )  # fmt: skip
    cohort = Cohort(g, loci, np.array([f"s{i}" for i in range(n)]))
    return Dataset(cohort, y.astype(np.float32), z, "y", False)


def _design(ds, a, b):
    st = ds.cohort.states
    keep = (st[:, a] != MISSING) & (st[:, b] != MISSING)
    ga, gb = st[keep, a].astype(float), st[keep, b].astype(float)
    return keep, ga, gb, ds.y[keep].astype(float), ds.covariates[keep].astype(float)


def naive_product(ds, a, b):
    keep, ga, gb, y, z = _design(ds, a, b)
    x = np.column_stack([np.ones(len(y)), ga, gb, ga * gb, z])
    beta = np.linalg.lstsq(x, y, rcond=None)[0]
    dof = len(y) - np.linalg.matrix_rank(x)
    s2 = np.sum((y - x @ beta) ** 2) / dof
    se = np.sqrt(s2 * np.linalg.inv(x.T @ x)[3, 3])
    stat = (beta[3] / se) ** 2
    return beta[3], se, stat, stats.chi2.sf(stat, 1), keep.sum()


def _rss_rank(x, y):
    beta = np.linalg.lstsq(x, y, rcond=None)[0]
    return np.sum((y - x @ beta) ** 2), np.linalg.matrix_rank(x)


def naive_genotype(ds, a, b):
    keep, ga, gb, y, z = _design(ds, a, b)
    oa = (ga[:, None] == np.arange(3)).astype(float)
    ob = (gb[:, None] == np.arange(3)).astype(float)
    cells = (oa[:, :, None] * ob[:, None, :]).reshape(len(y), 9)
    rss1, r1 = _rss_rank(np.column_stack([cells, z]), y)
    rss0, r0 = _rss_rank(np.column_stack([oa, ob, z]), y)
    df1, df2 = r1 - r0, len(y) - r1
    f = ((rss0 - rss1) / df1) / (rss1 / df2)
    return f, df1, df2, stats.f.sf(f, df1, df2)


@pytest.mark.parametrize("c,missing", [(0, 0.0), (2, 0.0), (0, 0.05), (3, 0.05)])
def test_scan_product__matches_naive_ols(c, missing):
    ds = make_dataset(c=c, missing=missing, seed=c + 7)
    res = scan(ds, "product", top=None, block=4)
    assert res.height == 9 * 8 // 2
    for r in res.iter_rows(named=True):
        beta, se, stat, p, n = naive_product(ds, r["idx_a"], r["idx_b"])
        np.testing.assert_allclose([r["BETA_INT"], r["SE"], r["STAT"], r["P"]], [beta, se, stat, p],
                                   rtol=1e-8)  # fmt: skip
        assert r["n"] == n
    assert np.all(np.diff(res["P"].to_numpy()) >= 0)


@pytest.mark.parametrize("c,missing", [(0, 0.0), (2, 0.05)])
def test_scan_genotype__matches_naive_f_test(c, missing):
    ds = make_dataset(c=c, missing=missing, seed=11 + c)
    res = scan(ds, "genotype", top=None, block=4)
    assert res.height == 36
    for r in res.iter_rows(named=True):
        f, df1, df2, p = naive_genotype(ds, r["idx_a"], r["idx_b"])
        assert (r["DF1"], r["DF2"]) == (df1, df2)
        np.testing.assert_allclose([r["F"], r["P"]], [f, p], rtol=1e-7)


def test_scan_genotype__adjusts_df_for_empty_cells():
    ds = make_dataset(n=120, l=4, seed=3)
    st = ds.cohort.states
    st[:, 0] = np.where(st[:, 0] == 2, 1, st[:, 0])  # no homozygous ALT at locus 0
    st[:, 1] = np.where((st[:, 1] == 2) & (st[:, 0] == 1), 0, st[:, 1])  # empty cell (1, 2)
    res = scan(ds, "genotype", top=None)
    row = res.filter((res["idx_a"] == 0) & (res["idx_b"] == 1)).row(0, named=True)
    f, df1, df2, p = naive_genotype(ds, 0, 1)
    assert df1 < 4 and (row["DF1"], row["DF2"]) == (df1, df2)
    np.testing.assert_allclose([row["F"], row["P"]], [f, p], rtol=1e-7)


def test_scan__finds_planted_pairs():
    ds = make_dataset(n=600, l=30, seed=5, planted=(3, 17), dominance=(8, 25))
    top = scan(ds, "product", top=5)
    assert (top["idx_a"][0], top["idx_b"][0]) == (3, 17)
    geno = scan(ds, "genotype", top=5)
    found = set(zip(geno["idx_a"].to_list()[:2], geno["idx_b"].to_list()[:2], strict=True))
    assert {(3, 17), (8, 25)} <= found


def test_scan__top_k_over_blocks_equals_full_sort_and_respects_distance():
    ds = make_dataset(n=200, l=25, seed=9, missing=0.02)
    full = scan(ds, "product", top=None, block=7)
    top = scan(ds, "product", top=10, block=5)
    assert top.equals(full.head(10))
    far = scan(ds, "product", top=None, min_distance_bp=3000)
    assert (far["idx_b"] - far["idx_a"]).min() >= 3
    assert far.height == full.filter(full["idx_b"] - full["idx_a"] >= 3).height
    thr = scan(ds, "product", top=None, p_threshold=0.1)
    assert thr.equals(full.filter(full["P"] <= 0.1))


def test_scan__skips_non_biallelic_loci_and_restricts_to_pairs():
    ds = make_dataset(l=5, seed=2)
    loci = ds.cohort.loci.with_columns(
        alt=ds.cohort.loci["alt"].scatter(1, "A,C"),
    )
    ds = Dataset(Cohort(ds.cohort.states, loci, ds.cohort.samples), ds.y, ds.covariates, "y", False)
    logs = []
    res = scan(ds, "product", top=None, log=logs.append)
    assert res.height == 6 and 1 not in res["idx_a"].to_list() + res["idx_b"].to_list()
    assert "1 loci" in logs[0]
    rows = np.arange(0, 150, 2)
    sub = scan_pairs(ds, np.array([[4, 0], [2, 3]]), "product", rows=rows)
    half = Dataset(ds.cohort.subset(samples=rows), ds.y[rows], ds.covariates[rows], "y", False)
    np.testing.assert_allclose(sub["BETA_INT"][0], naive_product(half, 4, 0)[0], rtol=1e-9)
    assert sub["idx_a"].to_list() == [4, 2]


def _plink_files(tmp_path, ds):
    from bed_reader import to_bed

    st = ds.cohort.states
    val = np.where(st == MISSING, np.nan, st).astype(np.float32)
    iid = ds.cohort.samples.tolist()
    l = st.shape[1]
    props = {
        "fid": iid, "iid": iid, "sid": ds.cohort.loci["id"].to_list(), "chromosome": ["1"] * l,
        "bp_position": ds.cohort.loci["pos"].to_numpy(), "allele_1": ["A"] * l,
        "allele_2": ["G"] * l,
    }  # fmt: skip
    to_bed(tmp_path / "c.bed", val, properties=props)  # allele_1 = ALT, counted by bed_reader
    with open(tmp_path / "c.pheno", "w") as f:
        for s, v in zip(iid, ds.y, strict=True):
            f.write(f"{s} {s} {v:.7g}\n")
    return tmp_path / "c"


def _same_to_4_digits(ours, theirs):
    """PLINK prints 6 (BETA, STAT) or 4 (P) significant digits: agree to PLINK's 4th digit."""
    unit = 10.0 ** (np.floor(np.log10(np.abs(theirs))) - 3)
    return np.abs(ours - theirs) <= 0.55 * unit  # half a unit, plus slack at a rounding tie


@pytest.mark.plink
@pytest.mark.skipif(shutil.which("plink1.9") is None, reason="plink1.9 not installed")
def test_scan_product__equals_plink_epistasis(tmp_path):
    ds = make_dataset(n=300, l=30, seed=21, planted=(4, 20), missing=0.02)
    y = np.array([float(f"{v:.7g}") for v in ds.y], dtype=np.float32)  # exactly what PLINK reads
    ds = Dataset(ds.cohort, y, ds.covariates, "y", False)
    prefix = _plink_files(tmp_path, ds)
    out = str(tmp_path / "o")
    cmd = ["plink1.9", "--bfile", str(prefix), "--pheno", f"{prefix}.pheno", "--epistasis",
           "--epi1", "1", "--allow-no-sex", "--keep-allele-order", "--out", out]  # fmt: skip
    subprocess.run(cmd, check=True, capture_output=True)
    lines = (tmp_path / "o.epi.qt").read_text().splitlines()[1:]
    plink = {}
    for line in lines:
        f = line.split()
        plink[(int(f[1][2:]), int(f[3][2:]))] = [float(v) for v in f[4:7]]
    ours = scan(ds, "product", top=None)
    assert ours.height == len(plink) == 30 * 29 // 2
    for r in ours.iter_rows(named=True):
        theirs = np.array(plink[(r["idx_a"], r["idx_b"])])
        mine = np.array([r["BETA_INT"], r["STAT"]])
        assert _same_to_4_digits(mine, theirs[:2]).all(), (r, theirs)
        # P: 4 digits, up to PLINK 1.9's own tail drift (its P equals the exact chi-square tail
        # of STAT - ~5e-6 STAT^2, measured; 0.5% at STAT = 43, below print precision at STAT < 7)
        drift = 1e-5 * theirs[1] ** 2
        assert _same_to_4_digits(r["P"], theirs[2]) or abs(r["P"] / theirs[2] - 1) < drift
    assert (ours["idx_a"][0], ours["idx_b"][0]) == (4, 20)


@pytest.mark.gpu
@pytest.mark.parametrize("test", ["product", "genotype"])
def test_scan__gpu_equals_cpu(test):
    """The pair scan on a CUDA device (int8 products there too) gives the CPU's table."""
    import torch

    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA device")
    ds = make_dataset(n=400, l=40, c=2, missing=0.03, seed=21, planted=(3, 17))
    a = scan(ds, test, top=None, block=16, device="cpu")
    b = scan(ds, test, top=None, block=16, device="cuda")
    assert a.select("idx_a", "idx_b", "n").to_dicts() == b.select("idx_a", "idx_b", "n").to_dicts()
    np.testing.assert_allclose(b["P"].to_numpy(), a["P"].to_numpy(), rtol=1e-6)

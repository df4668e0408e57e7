"""Exhaustive 3-way scan kernels against a naive per-triple least-squares reference."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pytest
import torch
from scipy import stats

from genoattn.contract import MISSING
from genoattn.stats import (
    exhaustive_triples,
    prepare_triples,
    rescore,
    scan_triple_tile,
    screen_all,
    triple_tiles,
)


def cohort(n=300, l=9, c=2, missing=0.0, seed=0):
    rng = np.random.default_rng(seed)
    g = rng.binomial(2, rng.uniform(0.15, 0.5, l), size=(n, l)).astype(np.int8)
    z = rng.normal(size=(n, c)) + 0.3 * g[:, :c]  # covariates correlated with genotypes
    parity = ((g[:, :3] == 1).sum(1) % 2).astype(float)
    y = 0.4 * g[:, 0] * g[:, 1] * g[:, 2] + 0.6 * parity + rng.normal(size=n)
    y = y + (z @ rng.normal(size=c) if c else 0)
    g[rng.random((n, l)) < missing] = MISSING
    return g, y, (z if c else None)


def _cells(g):
    out = np.ones((len(g), 1))
    for j in range(g.shape[1]):
        oh = (g[:, j][:, None] == np.arange(3)).astype(float)
        out = (out[:, :, None] * oh[:, None, :]).reshape(len(g), -1)
    return out


def _rss(x, y):
    beta, *_ = np.linalg.lstsq(x, y, rcond=None)
    r = y - x @ beta
    return r @ r, np.linalg.matrix_rank(x), beta


def naive(g, y, z, t, test):
    """Explicit designs, numpy lstsq; samples missing at any of the three loci dropped."""
    st = g[:, list(t)]
    keep = (st != MISSING).all(1)
    gs, ys = st[keep].astype(float), y[keep]
    zs = np.zeros((keep.sum(), 0)) if z is None else z[keep]
    if test == "product":
        cols = [np.ones(len(gs))]
        for r in (1, 2, 3):
            cols += [np.prod(gs[:, list(c)], 1) for c in combinations(range(3), r)]
        x = np.column_stack(cols + [zs])
        rss, rank, beta = _rss(x, ys)
        cov = np.linalg.pinv(x.T @ x) * rss / (len(ys) - rank)
        return {"beta": beta[7], "se": np.sqrt(cov[7, 7]), "n": len(ys)}
    x1 = np.column_stack([_cells(gs), zs])
    x0 = np.column_stack([_cells(gs[:, list(p)]) for p in combinations(range(3), 2)] + [zs])
    (r1, k1, _), (r0, k0, _) = _rss(x1, ys), _rss(x0, ys)
    df1, df2 = k1 - k0, len(ys) - k1
    return {"F": (r0 - r1) / df1 / (r1 / df2), "df1": df1, "df2": df2, "n": len(ys)}


@pytest.mark.parametrize("test", ["product", "genotype"])
@pytest.mark.parametrize("c,missing", [(0, 0.0), (2, 0.0), (2, 0.05)])
def test_rescore__matches_naive_lstsq(test, c, missing):
    g, y, z = cohort(c=c, missing=missing, seed=c)
    p = prepare_triples(g, y, z, dtype=torch.float64)
    idx = np.array(list(combinations(range(g.shape[1]), 3)))
    got = rescore(p, idx, test)
    for j, t in enumerate(idx):
        ref = naive(g, y, z, t, test)
        for key, v in ref.items():
            assert getattr(got, key)[j] == pytest.approx(v, rel=1e-7, abs=1e-9), (t, key)


@pytest.mark.parametrize("test", ["product", "genotype"])
@pytest.mark.parametrize("missing", [0.0, 0.05])
def test_screen__exact_without_covariates(test, missing):
    """Without covariates the fast tile route (both cell routes) equals the reference."""
    g, y, _ = cohort(l=11, c=0, missing=missing, seed=3)
    g[:, 5] = np.where(g[:, 5] == 2, 1, g[:, 5])  # a locus with an empty class: empty cells
    p = prepare_triples(g, y, None, dtype=torch.float64)
    seen = []
    for tile in triple_tiles(g.shape[1], 4):
        out = scan_triple_tile(p, tile, test, block=4)
        for j, t in enumerate(out.idx.tolist()):
            ref = naive(g, y, None, t, test)
            for key, v in ref.items():
                assert float(getattr(out.stats, key)[j]) == pytest.approx(v, rel=1e-7, abs=1e-9), (
                    t,
                    key,
                )
            seen.append(tuple(t))
    assert sorted(seen) == list(combinations(range(g.shape[1]), 3))


def test_triple_tiles__cover_each_triple_once():
    for l, block in [(1, 4), (3, 1), (10, 3), (12, 4)]:
        count = 0
        for tile in triple_tiles(l, block):
            i, j, k = tile
            assert i <= j <= k
            a = range(i * block, min((i + 1) * block, l))
            b = range(j * block, min((j + 1) * block, l))
            cc = range(k * block, min((k + 1) * block, l))
            count += sum(1 for x in a for y_ in b for w in cc if x < y_ < w)
        assert count == len(list(combinations(range(l), 3)))


@pytest.mark.parametrize("test", ["product", "genotype"])
def test_exhaustive__planted_product_triple_first_and_p_from_reference(test):
    g, y, z = cohort(n=600, l=10, c=2, missing=0.02, seed=5)
    p = prepare_triples(g, y, z)
    res = exhaustive_triples(p, test, top=5, block=4, log=lambda *_: None)
    assert res["idx"][0].tolist() == [0, 1, 2]
    ref = naive(g, y, z, (0, 1, 2), test)
    if test == "product":
        pref = 2 * stats.norm.sf(abs(ref["beta"] / ref["se"]))
    else:
        pref = stats.f.sf(ref["F"], ref["df1"], ref["df2"])
    assert res["P"][0] == pytest.approx(pref, rel=1e-4)
    assert (np.diff(res["P"]) >= 0).all()


def test_screen__float32_close_to_float64():
    g, y, z = cohort(n=400, l=12, c=1, seed=7)
    a = screen_all(prepare_triples(g, y, z), "genotype", pool=50, block=5)
    b = screen_all(prepare_triples(g, y, z, dtype=torch.float64), "genotype", pool=50, block=5)
    assert a["idx"].tolist()[:10] == b["idx"].tolist()[:10]
    np.testing.assert_allclose(a["F"], b["F"], rtol=1e-4)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_screen__gpu_matches_cpu():
    g, y, z = cohort(n=400, l=12, c=2, missing=0.02, seed=8)
    for test in ("product", "genotype"):
        a = exhaustive_triples(prepare_triples(g, y, z), test, top=20, block=5)
        b = exhaustive_triples(prepare_triples(g, y, z, device="cuda"), test, top=20, block=5)
        assert a["idx"].tolist() == b["idx"].tolist()
        np.testing.assert_allclose(a["P"], b["P"], rtol=1e-6)

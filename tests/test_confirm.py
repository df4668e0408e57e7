"""Held-out confirmation against naive lstsq OLS, scipy logistic fits and a hand-computed case."""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pytest
from scipy import optimize, stats

from genoattn.contract import MISSING, Cohort, Dataset, make_loci
from genoattn.interpret.confirm import confirm_pairs, confirm_triples


def make_dataset(n=160, l=6, c=2, missing=0.03, binary=False, seed=0):
    rng = np.random.default_rng(seed)
    g = rng.binomial(2, rng.uniform(0.25, 0.5, l), size=(n, l)).astype(np.int8)
    z = rng.normal(size=(n, c)).astype(np.float32)
    eta = (
        (1.0 if binary else 0.5) * g[:, 0] * g[:, 1] - 0.6 + (z @ rng.normal(size=c) if c else 0.0)
    )
    y = (rng.random(n) < 1 / (1 + np.exp(-eta))) if binary else eta + rng.normal(size=n)
    g[rng.random((n, l)) < missing] = MISSING
    loci = make_loci(["1"] * l, np.arange(1, l + 1), ["."] * l, ["A"] * l, ["C"] * l,
                     [["0", "1", "2"]] * l)  # fmt: skip
    cohort = Cohort(g, loci, np.array([f"s{i}" for i in range(n)]))
    return Dataset(cohort, y.astype(np.float32), z, "y", binary)


def _cols(ds, rows, t):
    st = ds.cohort.states[rows][:, list(t)]
    keep = (st != MISSING).all(1)
    g = st[keep].astype(float)
    return g, ds.y[rows][keep].astype(float), ds.covariates[rows][keep].astype(float)


def _product_design(g, z):
    cols = [np.ones(len(g))]
    for r in range(1, g.shape[1] + 1):
        cols += [np.prod(g[:, list(c)], 1) for c in combinations(range(g.shape[1]), r)]
    return np.column_stack(cols + [z])


def _cells(g, loci):
    out = np.ones((len(g), 1))
    for j in loci:
        oh = (g[:, j][:, None] == np.arange(3)).astype(float)
        out = (out[:, :, None] * oh[:, None, :]).reshape(len(g), -1)
    return out


@pytest.mark.parametrize("order", [2, 3])
def test_confirm_product__linear_matches_lstsq_t_test(order):
    ds = make_dataset(seed=order)
    rows = np.arange(20, 160)
    tuples = np.array([[0, 1, 2], [2, 4, 5], [1, 3, 5]])[:, :order]
    fn = confirm_pairs if order == 2 else confirm_triples
    res = fn(ds, tuples, rows=rows)
    for r, t in zip(res.iter_rows(named=True), tuples, strict=True):
        g, y, z = _cols(ds, rows, t)
        x = _product_design(g, z)
        beta = np.linalg.lstsq(x, y, rcond=None)[0]
        dof = len(y) - x.shape[1]
        k = x.shape[1] - z.shape[1] - 1  # the highest-order product column
        se = np.sqrt(np.sum((y - x @ beta) ** 2) / dof * np.linalg.inv(x.T @ x)[k, k])
        tt = beta[k] / se
        expect = [beta[k], se, tt, 2 * stats.t.sf(abs(tt), dof)]
        np.testing.assert_allclose([r["effect"], r["se"], r["stat"], r["p"]], expect, rtol=1e-7)
        assert r["n"] == len(y) and r["df2"] == dof


@pytest.mark.parametrize("order", [2, 3])
def test_confirm_genotype__linear_matches_lstsq_f_test(order):
    ds = make_dataset(n=300, seed=10 + order)
    tuples = np.array([[0, 1, 2], [3, 4, 5]])[:, :order]
    fn = confirm_pairs if order == 2 else confirm_triples
    res = fn(ds, tuples, test="genotype")
    for r, t in zip(res.iter_rows(named=True), tuples, strict=True):
        g, y, z = _cols(ds, np.arange(300), t)
        x1 = np.column_stack([_cells(g, range(order)), z])
        x0 = np.column_stack([_cells(g, c) for c in combinations(range(order), order - 1)] + [z])
        (rss1, rss0), (r1, r0) = zip(*[_fit(x, y) for x in (x1, x0)], strict=True)
        df1, df2 = r1 - r0, len(y) - r1
        f = ((rss0 - rss1) / df1) / (rss1 / df2)
        assert (r["df1"], r["df2"]) == (df1, df2)
        np.testing.assert_allclose([r["stat"], r["p"]], [f, stats.f.sf(f, df1, df2)], rtol=1e-7)


def _fit(x, y):
    beta = np.linalg.lstsq(x, y, rcond=None)[0]
    return np.sum((y - x @ beta) ** 2), np.linalg.matrix_rank(x)


def _logit_mle(x, y):
    def nll(b):
        eta = x @ b
        return np.sum(np.logaddexp(0, eta) - y * eta)

    def grad(b):
        return x.T @ (1 / (1 + np.exp(-(x @ b))) - y)

    b = optimize.minimize(nll, np.zeros(x.shape[1]), jac=grad, method="BFGS",
                          options={"gtol": 1e-10}).x  # fmt: skip
    mu = 1 / (1 + np.exp(-(x @ b)))
    return b, np.linalg.inv((x * (mu * (1 - mu))[:, None]).T @ x), 2 * nll(b)


def _firth_mle(x, y, x_pen):
    """Naive Firth reference: maximise l(b) + 1/2 log|x_pen^T W(b) x_pen| numerically."""

    def neg(b):
        eta = x @ b
        mu = 1 / (1 + np.exp(-eta))
        info = (x_pen * (mu * (1 - mu))[:, None]).T @ x_pen
        return -(np.sum(y * eta - np.logaddexp(0, eta)) + 0.5 * np.linalg.slogdet(info)[1])

    b = optimize.minimize(neg, np.zeros(x.shape[1]), method="BFGS", options={"gtol": 1e-10}).x
    mu = 1 / (1 + np.exp(-(x @ b)))
    return b, np.linalg.inv((x * (mu * (1 - mu))[:, None]).T @ x), 2 * neg(b)


def test_confirm__logistic_matches_a_naive_firth_fit():
    ds = make_dataset(n=400, l=4, binary=True, seed=4)
    res = confirm_pairs(ds, np.array([[0, 1], [2, 3]]))
    gen = confirm_pairs(ds, np.array([[0, 1], [2, 3]]), test="genotype")
    for r, q, t in zip(res.iter_rows(named=True), gen.iter_rows(named=True), [[0, 1], [2, 3]],
                       strict=True):  # fmt: skip
        g, y, z = _cols(ds, np.arange(400), t)
        x1 = _product_design(g, z)
        b, cov, dev1 = _firth_mle(x1, y, x1)
        dev0 = _firth_mle(np.delete(x1, 3, axis=1), y, x1)[2]
        np.testing.assert_allclose([r["effect"], r["se"]], [b[3], np.sqrt(cov[3, 3])], rtol=1e-4)
        np.testing.assert_allclose(r["p"], stats.chi2.sf(dev0 - dev1, 1), rtol=1e-3)
        c1 = np.column_stack([_cells(g, [0, 1]), z])
        c1 = c1[:, c1.any(0)]  # cells absent from the samples carry no information
        c0 = np.column_stack([_cells(g, [0]), _cells(g, [1])[:, 1:], z])
        dev1 = _firth_mle(c1, y, c1)[2]
        dev0 = _firth_mle(c0[:, c0.any(0)], y, c1)[2]
        np.testing.assert_allclose(q["stat"], dev0 - dev1, rtol=1e-4, atol=1e-6)
    assert res["p"][0] < 0.05  # the planted pair


def test_confirm__hand_computed_two_by_two():
    # cells (g_a, g_b) in {0,1}^2 with means 1, 2, 3, 7: interaction 7 - 3 - 2 + 1 = 3
    ga = np.array([0, 0, 0, 0, 1, 1, 1, 1], np.int8)
    gb = np.array([0, 0, 1, 1, 0, 0, 1, 1], np.int8)
    y = np.array([0.5, 1.5, 1.5, 2.5, 2.5, 3.5, 6.5, 7.5], np.float32)
    loci = make_loci(["1", "1"], [1, 2], ["a", "b"], ["A", "A"], ["C", "C"], [["0", "1", "2"]] * 2)
    ds = Dataset(Cohort(np.column_stack([ga, gb]), loci, np.arange(8).astype(str)), y,
                 np.zeros((8, 0), np.float32), "y", False)  # fmt: skip
    r = confirm_pairs(ds, np.array([[0, 1]])).row(0, named=True)
    # residuals +-0.5 in every cell: RSS = 2, s^2 = 2 / 4; var(beta_int) = s^2 * (4 / 2)
    assert r["effect"] == pytest.approx(3.0)
    assert r["se"] == pytest.approx(1.0)
    assert r["n"] == 8 and r["df2"] == 4

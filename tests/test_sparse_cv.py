"""Cross-validated penalty selection (genoattn/sparse/cv.py) and the stability record.

Oracles: a naive K-fold loop over the same lambda path on the dense reference design
(tests/sparse_dense_reference.py), hand-made CV curves for the one-standard-error rule, and the
simulator's planted pairs.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sparse_dense_reference import _Design, _lambda_grid

from genoattn.config import SparseFitConfig
from genoattn.simulate import SimConfig, simulate
from genoattn.sparse.contrasts import fit_contrasts
from genoattn.sparse.cv import CVCurve, choose, cv_main, fold_problems, make_folds
from genoattn.sparse.fit import Problem, fit_sparse_sa
from genoattn.sparse.group_lasso import lambda_max, loss_value, solve_active_set

QUIET = lambda s: None  # noqa: E731


@pytest.fixture(scope="module")
def cohort():
    """(sim, contrasts, states (n, l) int8, standardised y (n,), covariates (n, c)), float64."""
    sim = simulate(SimConfig(n_samples=600, n_loci=60, n_additive=6, h2_additive=0.2, seed=3))
    st = torch.as_tensor(sim.cohort.states)
    con = fit_contrasts(sim.cohort.states, sim.cohort.n_states)
    y = torch.as_tensor(sim.trait.values, dtype=torch.float64)
    y = (y - y.mean()) / y.std()
    cov = torch.as_tensor(sim.trait.covariates, dtype=torch.float64)
    cov = (cov - cov.mean(0)) / cov.std(0)
    return sim, con, st, y, cov


def test_make_folds__seeded_balanced_partition():
    f = make_folds(103, 5, seed=7)
    assert np.array_equal(f, make_folds(103, 5, seed=7))
    assert not np.array_equal(f, make_folds(103, 5, seed=8))
    assert sorted(np.bincount(f).tolist()) == [20, 20, 21, 21, 21]


def test_choose__minimum_and_one_standard_error_rule():
    lam = [8.0, 4.0, 2.0, 1.0, 0.5]
    curve = CVCurve(lam, np.array([1.0, 0.62, 0.60, 0.58, 0.59]), np.full(5, 0.05), [])
    assert choose(curve) == 3
    assert choose(curve, n_se=1.0) == 1  # 0.62 <= 0.58 + 0.05: the largest such lambda
    assert choose(curve, n_se=0.5) == 2  # 0.60 <= 0.605 < 0.62
    assert choose(curve, allowed=np.array([True, True, False, False, False])) == 1
    assert choose(curve, allowed=np.zeros(5, dtype=bool)) == -1


def _naive_main_curve(sim, con, y, cov, fold, cfg):
    """K-fold losses of the main-effect path, fold by fold on dense designs (reference)."""
    tok = torch.as_tensor(sim.cohort.tokens(), dtype=torch.int64)
    z = torch.as_tensor(con.table, dtype=torch.float64)[tok]  # (n, l, d)

    def weights(zs, ys):
        zf = zs.reshape(zs.shape[0], -1)
        y0 = ys - ys.mean()
        sc = ((zf.T @ y0) ** 2 / torch.clamp((zf * zf).sum(0), min=1e-12)).reshape(
            zs.shape[1], zs.shape[2]
        ).sum(1).numpy() / np.maximum(con.n_active, 1)
        return (sc.max() / np.maximum(sc, 1e-12)) ** (cfg.adaptive / 2)

    empty = np.zeros((0, 2), dtype=np.int64)
    full = _Design(z, cov, empty, con.n_active, main_scale=weights(z, y))
    w_all = torch.cat([torch.zeros(full.c, dtype=torch.float64), full.w_main])
    lams = _lambda_grid(lambda_max(full.x, y, full.blocks, w_all, "mse"), cfg)
    losses = []
    for f in range(fold.max() + 1):
        tr, va = np.flatnonzero(fold != f), np.flatnonzero(fold == f)
        d = _Design(z[tr], cov[tr], empty, con.n_active, main_scale=weights(z[tr], y[tr]))
        x_va = d.rows(z[va], cov[va])
        res, row = None, []
        for lam in lams:
            res = solve_active_set(
                d.x, y[tr], d.blocks, d.penalty(lam, 0.0), "mse",
                beta0=None if res is None else res.beta,
                intercept0=None if res is None else res.intercept,
                max_iter=cfg.max_iter, tol=1e-8,
            )  # fmt: skip
            row.append(loss_value(res.intercept + x_va @ res.beta, y[va], "mse"))
        losses.append(row)
    sizes = np.bincount(fold)
    return np.asarray(lams), (sizes[:, None] * np.array(losses)).sum(0) / sizes.sum()


def test_cv_main__chosen_lambda_minimises_naive_kfold_loss(cohort):
    sim, con, st, y, cov = cohort
    cfg = SparseFitConfig(n_lambda=10, tol=1e-8, cv_folds=4, cv_seed=5)
    table = torch.as_tensor(con.locus, dtype=torch.float64)
    pb = Problem(st, y, cov, st[:0], y[:0], cov[:0], table, con.n_active, "mse")
    fold = make_folds(len(y), cfg.cv_folds, cfg.cv_seed)
    trace = []
    main, fold_main, loss = cv_main(pb, fold_problems(pb, fold), cfg, trace, QUIET)
    lams, naive = _naive_main_curve(sim, con, y, cov, fold, cfg)
    ours = np.array([t.val_loss for t in trace if t.stage == "main"])
    np.testing.assert_allclose([t.lam for t in trace], lams, rtol=1e-6)
    np.testing.assert_allclose(ours, naive, rtol=1e-4)
    j = int(np.flatnonzero(np.isclose(lams, main.lam, rtol=1e-9))[0])
    assert naive[j] <= naive.min() + 1e-6
    assert loss == pytest.approx(naive[j], rel=1e-4)
    assert len(fold_main) == 4 and all(f.lam == main.lam for f in fold_main)


def test_fit_cv__deterministic_keeps_planted_pairs_records_stability():
    sim = simulate(SimConfig(n_samples=1000, n_loci=200, seed=1))
    st = torch.as_tensor(sim.cohort.states)
    perm = np.random.default_rng(0).permutation(1000)
    tr, va = np.sort(perm[:750]), np.sort(perm[750:])
    con = fit_contrasts(sim.cohort.states[tr], sim.cohort.n_states)
    y = torch.as_tensor(sim.trait.values, dtype=torch.float32)
    y = (y - y[tr].mean()) / y[tr].std()
    cov = torch.zeros(1000, 0)
    cfg = SparseFitConfig(n_lambda=8, max_candidates=40, selection="cv", cv_folds=3)

    def run():
        return fit_sparse_sa(st[tr], y[tr], cov[tr], st[va], y[va], cov[va], con, "mse", cfg,
                             log=QUIET)  # fmt: skip

    a, b = run(), run()
    assert np.array_equal(a.pairs, b.pairs)
    np.testing.assert_array_equal(a.pair_beta, b.pair_beta)
    planted = {tuple(sorted(p)) for p in
               sim.truth.filter(order=2).select("locus_a", "locus_b").rows()}  # fmt: skip
    kept = {tuple(p) for p in a.pairs.tolist()}
    assert planted <= kept
    freq = dict(zip(map(tuple, a.pairs.tolist()), a.pair_sel_freq, strict=True))
    assert all(0.0 <= f <= 1.0 for f in freq.values())
    assert all(freq[p] == 1.0 for p in planted)  # every fold selects each planted pair
    rows = [t for t in a.trace if t["stage"] == "stability"]
    assert len(rows) == len(a.pairs)
    assert {t["stage"] for t in a.trace} == {"main", "pairs", "relax", "stability"}


def test_sparse_config__rejects_unknown_selection_and_one_fold():
    from genoattn.errors import GenoattnError

    with pytest.raises(GenoattnError, match="sparse.selection"):
        SparseFitConfig(selection="kfold")
    with pytest.raises(GenoattnError, match="sparse.cv_folds"):
        SparseFitConfig(selection="cv", cv_folds=1)

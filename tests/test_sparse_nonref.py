"""The non-reference route (genoattn/sparse/nonref.py) against dense designs and the tile route.

Oracles: the dense design [cov | z_a | z_a (x) z_b] built naively from the token-indexed contrast
table (float64, one explicit Kronecker product per row); the tile route of the same operator
(``sparse=False``); dense-contrast screening scores; and the dense reference fit
(tests/sparse_dense_reference.py), which the whole staged fit on a mutant library must match to
1e-6.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sparse_dense_reference import fit_sparse_sa as dense_fit_sparse_sa

from genoattn.config import SparseFitConfig
from genoattn.contract import MISSING, states_to_tokens, token_offsets
from genoattn.simulate import SimConfig, simulate
from genoattn.sparse.contrasts import fit_contrasts
from genoattn.sparse.fit import fit_sparse_sa
from genoattn.sparse.gram import GramDesign
from genoattn.sparse.nonref import nonref_of
from genoattn.sparse.operator import Groups, StatesOperator, all_groups
from genoattn.sparse.screen import StateContrasts, main_scores, screen_pairs


def _library(n: int = 500, l: int = 24, seed: int = 0, k: int = 21):
    """A mutant library: wild type (state 3) with 0-3 random substitutions per sequence (some
    to a missing call), ``k`` states per position. Returns states (n, l) int8, n_states (l,)."""
    rng = np.random.default_rng(seed)
    st = np.full((n, l), 3, dtype=np.int8)
    for i in range(n):
        pos = rng.choice(l, rng.integers(0, 4), replace=False)
        st[i, pos] = rng.integers(0, k, len(pos))
    st[rng.random(st.shape) < 0.005] = MISSING
    return st, np.full(l, k)


def _naive(st, n_states, cov, groups: Groups):
    """float64 contrasts table and the naive dense design of ``groups``."""
    con = fit_contrasts(st, n_states, min_count=1)
    z = con.table.astype(np.float64)[states_to_tokens(st, token_offsets(n_states))]
    n = len(st)
    cols = [cov[:, groups.cov], z[:, groups.main].reshape(n, -1)]
    for a, b in groups.pairs.tolist():
        cols.append(np.stack([np.kron(z[i, a], z[i, b]) for i in range(n)]))
    return con, z, np.concatenate(cols, axis=1)


def _ops(st, con, cov, groups):
    table = torch.as_tensor(con.locus, dtype=torch.float64)
    s, c = torch.as_tensor(st), torch.as_tensor(cov)
    return StatesOperator(s, table, c, groups), StatesOperator(s, table, c, groups, sparse=False)


@pytest.mark.parametrize("pairs", [[], [[0, 1], [2, 5], [1, 23], [7, 9]]])
def test_nonref_operator__products_match_naive_design_and_tile_route(pairs):
    st, n_states = _library()
    cov = np.random.default_rng(1).standard_normal((len(st), 2))
    groups = all_groups(2, st.shape[1], pairs)
    con, _, x = _naive(st, n_states, cov, groups)
    op, tiles = _ops(st, con, cov, groups)
    assert op.nonref is not None and tiles.nonref is None
    rng = np.random.default_rng(2)
    beta, r = rng.standard_normal(x.shape[1]), rng.standard_normal(x.shape[0])
    for o in (op, tiles):
        np.testing.assert_allclose(o.matvec(torch.as_tensor(beta)).numpy(), x @ beta, atol=1e-9)
        np.testing.assert_allclose(o.rmatvec(torch.as_tensor(r)).numpy(), x.T @ r, atol=1e-9)
    # a working set (some main effects, one pair) and other rows keep the route and the values
    keep = torch.zeros(2 + st.shape[1] + len(pairs), dtype=torch.bool)
    keep[[0, 4, 9, 2 + st.shape[1]] if pairs else [0, 4, 9]] = True
    sub = op.select(keep)
    cols = np.flatnonzero(np.repeat(keep.numpy(), [w for c, w in op.blocks for _ in range(c)]))
    b = rng.standard_normal(len(cols))
    np.testing.assert_allclose(sub.matvec(torch.as_tensor(b)).numpy(), x[:, cols] @ b, atol=1e-9)
    np.testing.assert_allclose(sub.rmatvec(torch.as_tensor(r)).numpy(), x[:, cols].T @ r, atol=1e-9)
    both = op.cat_rows(op.rows(op.states[:50], op.cov[:50]))
    assert both.nonref is not None
    xx = np.concatenate([x, x[:50]])
    np.testing.assert_allclose(both.matvec(torch.as_tensor(beta)).numpy(), xx @ beta, atol=1e-9)


@pytest.mark.parametrize("c", [0, 2])
def test_nonref_gram__equals_dense_gram(c):
    st, n_states = _library(seed=3)
    cov = np.random.default_rng(4).standard_normal((len(st), c))
    g = all_groups(c, st.shape[1])
    groups = Groups(g.cov, np.array([0, 3, 5, 11, 23]), g.pairs, g.triples)
    con, _, x = _naive(st, n_states, cov, groups)
    op, tiles = _ops(st, con, cov, groups)
    y = torch.randn(len(st), generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    gs, gt = GramDesign(op, y), GramDesign(tiles, y, rows=37)
    xt = torch.as_tensor(x)
    for got in (gs, gt):
        np.testing.assert_allclose(got.gram.numpy(), (xt.T @ xt).numpy(), atol=1e-9)
        np.testing.assert_allclose(got.xt1.numpy(), xt.sum(0).numpy(), atol=1e-9)
        np.testing.assert_allclose(got.xty.numpy(), (xt.T @ y).numpy(), atol=1e-9)


def test_nonref_screening__matches_dense_contrasts():
    st, n_states = _library(seed=6)
    con, z, _ = _naive(st, n_states, np.zeros((len(st), 0)), all_groups(0, st.shape[1]))
    table = torch.as_tensor(con.locus, dtype=torch.float64)
    src = StateContrasts(torch.as_tensor(st), table)
    assert nonref_of(src.states, table.shape[1]) is not None
    r = torch.randn(len(st), generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    zt = torch.as_tensor(z)
    p_sp, s_sp = screen_pairs(src, r, con.n_active, k=15, block=10, max_r2=0.5)
    p_dn, s_dn = screen_pairs(zt, r, con.n_active, k=15, max_r2=0.5)
    np.testing.assert_array_equal(p_sp, p_dn)
    np.testing.assert_allclose(s_sp, s_dn, rtol=1e-9)
    np.testing.assert_allclose(main_scores(src, r, con.n_active), main_scores(zt, r, con.n_active))


def test_nonref__dense_cohorts_keep_the_tile_route():
    sim = simulate(SimConfig(n_samples=300, n_loci=40, seed=2))
    st = torch.as_tensor(sim.cohort.states)
    assert nonref_of(st, 4) is None  # common SNPs: most entries differ from the reference


def test_fit_sparse_sa__nonref_route_equals_dense_reference():
    st, n_states = _library(n=900, l=30, seed=8, k=6)
    hot = np.random.default_rng(10).random((900, 2)) < 0.3  # positions 2 and 7 mutate often
    st[:, [2, 7]] = np.where(hot, 5, st[:, [2, 7]])
    con = fit_contrasts(st[:650], n_states, min_count=3)
    z = torch.as_tensor(con.table, dtype=torch.float64)[
        torch.as_tensor(states_to_tokens(st, token_offsets(n_states)), dtype=torch.int64)
    ]
    rng = np.random.default_rng(9)
    # planted: additive effects at 4 positions and one pair interaction (positions 2 and 7)
    eff = rng.standard_normal((30, 6)) * (np.arange(30) < 4)[:, None]
    s = np.clip(st.astype(np.int64), 0, None)
    y = eff[np.arange(30), s].sum(1) + 2.0 * ((st[:, 2] != 3) & (st[:, 7] != 3))
    y = torch.as_tensor(y + 0.3 * rng.standard_normal(len(y)))
    y = (y - y[:650].mean()) / y[:650].std()
    cov = torch.zeros(len(st), 0, dtype=torch.float64)
    cfg = SparseFitConfig(n_lambda=6, max_candidates=10, tol=1e-10, max_iter=20_000)
    tr, va = slice(0, 650), slice(650, None)
    sts = torch.as_tensor(st)
    assert nonref_of(sts[tr], con.locus.shape[1]) is not None
    args = (y[tr], cov[tr])
    got = fit_sparse_sa(sts[tr], *args, sts[va], y[va], cov[va], con, "mse", cfg, log=lambda s: 0)
    ref = dense_fit_sparse_sa(z[tr], *args, z[va], y[va], cov[va], con, "mse", cfg, log=lambda s: 0)
    assert len(ref.pairs) > 0
    np.testing.assert_array_equal(got.pairs, ref.pairs)
    np.testing.assert_allclose(got.main_beta, ref.main_beta, atol=1e-6)
    np.testing.assert_allclose(got.pair_beta, ref.pair_beta, atol=1e-6)
    assert abs(got.intercept - ref.intercept) < 1e-6
    for g, r in zip(got.trace, ref.trace, strict=True):
        assert abs(g["val_loss"] - r["val_loss"]) < 1e-6

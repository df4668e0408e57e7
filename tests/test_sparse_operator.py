"""The blocked design operator over int8 states against dense designs built naively.

Oracles: the dense design [cov | z_a | z_a (x) z_b | z_a (x) z_b (x) z_c] assembled from the
token-indexed contrast table with explicit per-row Kronecker products (float64); the screening
scores of dense contrasts; and the whole staged fit of the dense reference implementation
(tests/sparse_dense_reference.py, the pre-operator code), which must agree to 1e-6.
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
from genoattn.sparse.group_lasso import solve_active_set
from genoattn.sparse.operator import DenseOperator, StatesOperator, all_groups
from genoattn.sparse.screen import StateContrasts, main_scores, screen_pairs, screen_triples


def _cohort(kind: str, n: int = 300, seed: int = 0):
    """(states (n, l) int8, n_states (l,)): SNP-like 3-state loci or 21-residue sequence loci,
    with 3% missing calls."""
    rng = np.random.default_rng(seed)
    if kind == "snp":
        n_states = np.full(9, 3)
        p = rng.uniform(0.1, 0.5, size=9)
        st = rng.binomial(2, p, size=(n, 9))
    else:
        n_states = np.full(5, 21)
        st = np.where(rng.random((n, 5)) < 0.4, rng.integers(0, 21, (n, 5)), 0)
    st = st.astype(np.int8)
    st[rng.random(st.shape) < 0.03] = MISSING
    return st, n_states


def _dense(z: np.ndarray, cov: np.ndarray, groups) -> np.ndarray:
    """Naive dense design of ``groups``: one explicit Kronecker product per row and tuple."""
    n = z.shape[0]
    cols = [cov[:, groups.cov], z[:, groups.main].reshape(n, -1)]
    for tup in [*groups.pairs.tolist(), *groups.triples.tolist()]:
        block = np.stack([_kron_row([z[i, a] for a in tup]) for i in range(n)])
        cols.append(block)
    return np.concatenate(cols, axis=1)


def _kron_row(vectors) -> np.ndarray:
    out = np.ones(1)
    for v in vectors:
        out = np.kron(out, v)
    return out


def _setup(kind: str):
    st, n_states = _cohort(kind)
    con = fit_contrasts(st, n_states, min_count=2)
    z = con.table.astype(np.float64)[states_to_tokens(st, token_offsets(n_states))]
    cov = np.random.default_rng(1).standard_normal((len(st), 2))
    table = torch.as_tensor(con.locus, dtype=torch.float64)
    return st, con, z, cov, table


@pytest.mark.parametrize("kind", ["snp", "sequence"])
def test_operator__matvec_rmatvec_and_dense_match_naive_design(kind):
    st, con, z, cov, table = _setup(kind)
    l = st.shape[1]
    triples = [[0, 2, 3], [1, 2, 4]] if kind == "snp" else [[0, 2, 3]]  # d^3 = 8000 columns
    groups = all_groups(2, l, [[0, 1], [1, 3], [2, 4]], triples)
    op = StatesOperator(torch.as_tensor(st), table, torch.as_tensor(cov), groups, tile_rows=37)
    x = _dense(z, cov, groups)
    assert op.shape == x.shape
    rng = np.random.default_rng(2)
    beta, r = rng.standard_normal(x.shape[1]), rng.standard_normal(x.shape[0])
    got = op.matvec(torch.as_tensor(beta)).numpy()
    np.testing.assert_allclose(got, x @ beta, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(op.rmatvec(torch.as_tensor(r)).numpy(), x.T @ r, atol=1e-9)
    np.testing.assert_allclose(op.dense().numpy(), x, atol=1e-12)
    # a sub-operator holds exactly the columns of its groups
    keep = torch.zeros(2 + l + 3 + len(triples), dtype=torch.bool)
    keep[[0, 3, 2 + l + 1, 2 + l + 3]] = True
    sub = op.select(keep)
    ref = DenseOperator(torch.as_tensor(x), op.blocks).select(keep)
    np.testing.assert_allclose(sub.dense().numpy(), ref.x.numpy(), atol=1e-12)


def test_operator__active_set_solve_equals_dense_solve():
    st, con, z, cov, table = _setup("sequence")
    groups = all_groups(2, st.shape[1], [[0, 1], [2, 3]])
    op = StatesOperator(torch.as_tensor(st), table, torch.as_tensor(cov), groups, tile_rows=50)
    x = torch.as_tensor(_dense(z, cov, groups))
    beta = torch.zeros(x.shape[1], dtype=torch.float64)
    beta[2:12] = 0.3
    y = x @ beta + torch.randn(len(st), generator=torch.Generator().manual_seed(0)).double()
    pen = torch.full((2 + st.shape[1] + 2,), 0.02, dtype=torch.float64)
    pen[:2] = 0.0
    kw = dict(loss="mse", max_iter=20_000, tol=1e-12)
    via_op = solve_active_set(op, y, op.blocks, pen, budget_bytes=0, **kw)
    dense = solve_active_set(x, y, op.blocks, pen, **kw)
    np.testing.assert_allclose(via_op.beta.numpy(), dense.beta.numpy(), atol=1e-6)
    assert abs(via_op.intercept - dense.intercept) < 1e-6


@pytest.mark.parametrize("kind", ["snp", "sequence"])
def test_screening__state_tiles_match_dense_contrasts(kind):
    st, con, z, _, table = _setup(kind)
    src = StateContrasts(torch.as_tensor(st), table)
    zt = torch.as_tensor(z)
    r = torch.randn(len(st), generator=torch.Generator().manual_seed(3)).double()
    p_op, s_op = screen_pairs(src, r, con.n_active, k=12, block=3, max_r2=0.5)
    p_dn, s_dn = screen_pairs(zt, r, con.n_active, k=12, max_r2=0.5)
    np.testing.assert_array_equal(p_op, p_dn)
    np.testing.assert_allclose(s_op, s_dn, rtol=1e-9)
    np.testing.assert_allclose(
        main_scores(src, r, con.n_active, block=2), main_scores(zt, r, con.n_active), rtol=1e-9
    )
    seeds = p_dn[:3]
    t_op, ts_op = screen_triples(src, r, con.n_active, seeds, k=6, max_r2=0.5, block=2)
    t_dn, ts_dn = screen_triples(zt, r, con.n_active, seeds, k=6, max_r2=0.5)
    np.testing.assert_array_equal(t_op, t_dn)
    np.testing.assert_allclose(ts_op, ts_dn, rtol=1e-9)
    # naive triple score of the best triple: per-df sum of normalised 1-df score statistics
    a, b, c = t_dn[0]
    w = np.stack([_kron_row([z[i, a], z[i, b], z[i, c]]) for i in range(len(st))])
    norm2 = (w * w).sum(0)
    ok = norm2 > 1e-12
    naive = ((w[:, ok].T @ r.numpy()) ** 2 / norm2[ok]).sum()
    df = con.n_active[a] * con.n_active[b] * con.n_active[c]
    np.testing.assert_allclose(ts_dn[0], naive / df, rtol=1e-9)


@pytest.mark.parametrize("budget, pairs", [(0.0, 15), (256.0, 15), (0.0, 0)])
def test_fit_sparse_sa__operator_route_equals_dense_reference(budget, pairs):
    sim = simulate(SimConfig(n_samples=600, n_loci=40, seed=4))
    c = sim.cohort
    perm = np.random.default_rng(0).permutation(c.n_samples)
    tr, va = np.sort(perm[:450]), np.sort(perm[450:])
    con = fit_contrasts(c.states[tr], c.n_states, min_count=3)
    z = torch.as_tensor(con.table, dtype=torch.float64)[
        torch.as_tensor(c.tokens(), dtype=torch.int64)
    ]
    y = torch.as_tensor(sim.trait.values, dtype=torch.float64)
    y = (y - y[tr].mean()) / y[tr].std()
    cov = torch.as_tensor(sim.trait.covariates, dtype=torch.float64)
    cov = (cov - cov[tr].mean(0)) / cov[tr].std(0)
    cfg = SparseFitConfig(
        n_lambda=6,
        max_candidates=pairs,
        max_triples=4,
        triple_seeds=3,
        triple_search="pairs",  # the dense reference implements the pair-extension search
        tol=1e-9,
        max_iter=20_000,
        work_budget_mb=budget,
    )
    st = torch.as_tensor(c.states)
    args = (y[tr], cov[tr])
    got = fit_sparse_sa(st[tr], *args, st[va], y[va], cov[va], con, "mse", cfg, log=lambda s: None)
    ref = dense_fit_sparse_sa(
        z[tr], *args, z[va], y[va], cov[va], con, "mse", cfg, log=lambda s: None
    )
    assert len(ref.pairs) > 0 or pairs == 0
    np.testing.assert_array_equal(got.pairs, ref.pairs)
    np.testing.assert_array_equal(got.triples, ref.triples)
    np.testing.assert_allclose(got.main_beta, ref.main_beta, atol=1e-6)
    np.testing.assert_allclose(got.pair_beta, ref.pair_beta, atol=1e-6)
    np.testing.assert_allclose(got.triple_beta, ref.triple_beta, atol=1e-6)
    np.testing.assert_allclose(got.cov_beta, ref.cov_beta, atol=1e-6)
    assert abs(got.intercept - ref.intercept) < 1e-6
    for g, r in zip(got.trace, ref.trace, strict=True):
        assert (g["stage"], g["gamma"]) == (r["stage"], r["gamma"])
        assert abs(g["val_loss"] - r["val_loss"]) < 1e-6
        assert isinstance(g["converged"], bool) and g["n_main"] >= 0 and g["n_pairs"] >= 0


def test_gram_design__solve_equals_dense_active_set():
    st, con, z, cov, table = _setup("snp")
    groups = all_groups(2, st.shape[1])
    op = StatesOperator(torch.as_tensor(st), table, torch.as_tensor(cov), groups)
    x = torch.as_tensor(_dense(z, cov, groups))
    g = torch.Generator().manual_seed(5)
    y = x[:, 2:8] @ torch.randn(6, generator=g, dtype=torch.float64)
    y = y + torch.randn(len(st), generator=g, dtype=torch.float64)
    pen = torch.full((2 + st.shape[1],), 0.05, dtype=torch.float64)
    pen[:2] = 0.0
    via_gram = GramDesign(op, y, rows=41).solve(pen, max_iter=20_000, tol=1e-12)
    dense = solve_active_set(x, y, op.blocks, pen, "mse", max_iter=20_000, tol=1e-12)
    assert int((via_gram.beta != 0).sum()) > 0
    np.testing.assert_allclose(via_gram.beta.numpy(), dense.beta.numpy(), atol=1e-6)
    assert abs(via_gram.intercept - dense.intercept) < 1e-6


@pytest.mark.parametrize("kind", ["snp", "sequence"])
def test_operator__col_sq_and_sparse_beta_matvec_match_naive_design(kind):
    """Column sums of squares (the KKT bound's Frobenius norms) and X @ beta of a beta with
    few non-zero groups (read through those groups only) against the naive dense design."""
    st, con, z, cov, table = _setup(kind)
    l = st.shape[1]
    rng = np.random.default_rng(5)
    pairs = [[a, b] for a in range(l) for b in range(a + 1, l)][:30]
    groups = all_groups(2, l, pairs, [[0, 2, 3]] if kind == "snp" else None)
    for sparse in (None, False):
        op = StatesOperator(torch.as_tensor(st), table, torch.as_tensor(cov), groups, sparse=sparse)
        x = _dense(z, cov, groups)
        np.testing.assert_allclose(op.col_sq().numpy(), (x * x).sum(0), rtol=1e-10, atol=1e-10)
        beta = np.zeros(x.shape[1])
        beta[0] = 0.3  # a covariate, a main effect, one pair: 3 of > 40 groups
        beta[2 : 2 + con.d] = rng.standard_normal(con.d)
        start = 2 + l * con.d + 4 * con.d**2
        beta[start : start + con.d**2] = rng.standard_normal(con.d**2)
        got = op.matvec(torch.as_tensor(beta)).numpy()
        np.testing.assert_allclose(got, x @ beta, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("loss", ["mse", "logistic"])
def test_kkt_violations__certified_check_equals_the_full_check(loss):
    """Along a warm-started path the bounded check (few columns recomputed) finds exactly the
    groups the full check finds, for residuals near and far from the last full pass."""
    from genoattn.sparse import group_lasso as gl

    st, con, z, cov, table = _setup("snp")
    l = st.shape[1]
    pairs = [[a, b] for a in range(l) for b in range(a + 1, l)]
    groups = all_groups(2, l, pairs)
    op = StatesOperator(torch.as_tensor(st), table, torch.as_tensor(cov), groups)
    x = torch.as_tensor(_dense(z, cov, groups))
    rng = np.random.default_rng(7)
    g = 2 + l + len(pairs)
    work = torch.zeros(g, dtype=torch.bool)
    work[:2] = True
    r0 = torch.as_tensor(rng.standard_normal(len(st))) / len(st)
    full = gl.group_norms(x.T @ r0, op.blocks)
    limit = torch.quantile(full, 0.9) * torch.ones(g, dtype=torch.float64)  # 5 violate at r0
    per_step: list[list[int]] = []  # columns read by each check's products
    orig = StatesOperator.rmatvec

    def counted(self, r):
        per_step[-1].append(self.shape[1])
        return orig(self, r)

    StatesOperator.rmatvec = counted
    try:
        for step, scale in enumerate([0.0, 1e-4, 1e-3, 1e-2, 1.0]):
            r = r0 + scale * torch.as_tensor(rng.standard_normal(len(st))) / len(st)
            want = (gl.group_norms(x.T @ r, op.blocks) > limit) & ~work
            per_step.append([])
            got = gl.kkt_violations(op, r, limit, work)
            assert torch.equal(got, want), (step, scale)
    finally:
        StatesOperator.rmatvec = orig
    p = op.shape[1]
    assert per_step[0] == [p, p]  # a full pass, and the column norms of the bound
    assert all(sum(cols) < p / 2 for cols in per_step[1:3])  # small drifts: few groups re-read
    assert per_step[-1] == [p]  # a large drift falls back to a full pass (norms kept)

"""Sparse SA_lin fit on a simulated cohort: screening finds the planted pairs, the fit keeps them.

Oracles: the simulator's planted truth (truth frame, order-2 rows), the documented per-pair score
(1/df) sum_uv (w_uv^T r)^2 / ||w_uv||^2 (w_uv = z_au z_bv) computed pair by pair in a naive loop,
and a duplicated locus (r^2 = 1 with its original).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genoattn.config import SparseFitConfig
from genoattn.simulate import SimConfig, simulate
from genoattn.sparse.contrasts import fit_contrasts, pair_features
from genoattn.sparse.fit import fit_sparse_sa
from genoattn.sparse.screen import screen_pairs

SEED = 1


@pytest.fixture(scope="module")
def cohort():
    """(sim, train rows, val rows, contrasts, z (n, l, d), standardised y, covariates)."""
    sim = simulate(SimConfig(n_samples=1000, n_loci=200, seed=SEED))
    c = sim.cohort
    perm = np.random.default_rng(0).permutation(c.n_samples)
    tr, va = np.sort(perm[:750]), np.sort(perm[750:])
    con = fit_contrasts(c.states[tr], c.n_states)
    z = torch.as_tensor(con.table)[torch.as_tensor(c.tokens(), dtype=torch.int64)]
    y = torch.as_tensor(sim.trait.values, dtype=torch.float32)
    y = (y - y[tr].mean()) / y[tr].std()
    cov = torch.as_tensor(sim.trait.covariates, dtype=torch.float32)
    cov = (cov - cov[tr].mean(0)) / cov[tr].std(0)
    return sim, tr, va, con, z, y, cov


def _planted(sim) -> dict[str, tuple[int, int]]:
    rows = sim.truth.filter(order=2).iter_rows(named=True)
    return {r["kind"]: tuple(sorted((r["locus_a"], r["locus_b"]))) for r in rows}


def test_screen_pairs__scores_match_naive_per_pair_loop(cohort):
    _, tr, _, con, z, y, _ = cohort
    zt = z[tr, :30].double()  # 30 loci: 435 pairs
    r = y[tr].double()
    pairs, scores = screen_pairs(zt, r, con.n_active[:30], k=25, block=7, max_r2=1.5)
    naive = {}
    for a in range(30):
        for b in range(a + 1, 30):
            df = con.n_active[a] * con.n_active[b]
            total = 0.0
            for u in range(con.d):
                for v in range(con.d):
                    w = zt[:, a, u] * zt[:, b, v]  # (n,) one product column
                    norm2 = float(w @ w)
                    if norm2 > 1e-12:
                        total += float(w @ r) ** 2 / norm2
            naive[(a, b)] = total / df if df else 0.0
    best = sorted(naive, key=naive.get, reverse=True)[:25]
    assert [tuple(p) for p in pairs.tolist()] == best
    np.testing.assert_allclose(scores, [naive[p] for p in best], rtol=1e-6)


def test_screen_pairs__ranks_planted_pure_pair_first(cohort):
    sim, tr, _, con, z, y, _ = cohort
    r = y[tr] - y[tr].mean()
    pairs, scores = screen_pairs(z[tr], r, con.n_active, k=20, max_r2=0.05)
    assert np.all(np.diff(scores) <= 0)
    assert np.all(pairs[:, 0] < pairs[:, 1])
    top = [tuple(p) for p in pairs[:3].tolist()]
    # the pure (XOR) pair has no main effect: it is found only through its pair features
    assert _planted(sim)["pure"] in top


def test_screen_pairs__skips_pairs_of_loci_in_ld(cohort):
    _, tr, _, con, z, _, _ = cohort
    zt = z[tr]
    a = 5
    zd = torch.cat([zt, zt[:, [a]]], dim=1)  # locus l is an exact copy of locus a
    n_active = np.append(con.n_active, con.n_active[a])
    l = zt.shape[1]
    # a residual driven by the product of the locus with its copy: the LD pair is the best fit
    rng = np.random.default_rng(0)
    coef = torch.tensor(rng.standard_normal(con.d * con.d), dtype=zt.dtype)
    resid = pair_features(zd[:, [a]], zd[:, [l]])[:, 0] @ coef
    resid = resid + 0.1 * torch.randn(len(tr), generator=torch.Generator().manual_seed(0))
    unfiltered, _ = screen_pairs(zd, resid, n_active, k=10, max_r2=1.5)
    assert tuple(unfiltered[0]) == (a, l)
    filtered, _ = screen_pairs(zd, resid, n_active, k=10, max_r2=0.05)
    assert (a, l) not in {tuple(p) for p in filtered.tolist()}
    assert len(filtered) == 10  # the other pairs still come through


def test_fit_sparse_sa__keeps_every_planted_pair(cohort):
    sim, tr, va, con, z, y, cov = cohort
    cfg = SparseFitConfig(n_lambda=8, max_candidates=40)
    st = torch.as_tensor(sim.cohort.states)  # (n, l) int8: the fit works from the states
    sol = fit_sparse_sa(
        st[tr], y[tr], cov[tr], st[va], y[va], cov[va], con, "mse", cfg, log=lambda s: None
    )
    kept = {tuple(p) for p in sol.pairs.tolist()}
    for kind, pair in _planted(sim).items():
        assert pair in kept, f"planted {kind} pair {pair} dropped; kept {sorted(kept)}"
    assert len(kept) <= 20  # sparse: most of the 40 candidates are dropped
    assert sol.pair_beta.shape == (len(sol.pairs), con.d, con.d)
    assert np.all(np.abs(sol.pair_beta).reshape(len(sol.pairs), -1).sum(1) > 0)
    # the chosen model beats the intercept-only model on validation samples
    stages = {t["stage"] for t in sol.trace}
    assert stages == {"main", "pairs", "relax"}
    assert min(t["val_loss"] for t in sol.trace) < 0.5 * float(y[va].var())


def test_fit_sparse_sa__refit_from_stages_equals_the_whole_fit(cohort):
    """A fit without its refit on training + validation samples, finished later from its
    stages (``fit auto``'s deferred winner), equals the fit that refits at once, exactly; the
    later refit solves no path (no line of the main, pair or relaxation stages)."""
    import dataclasses

    sim, tr, va, con, z, y, cov = cohort
    cfg = SparseFitConfig(n_lambda=8, max_candidates=40, refit_with_validation=True)
    st = torch.as_tensor(sim.cohort.states)
    args = (st[tr], y[tr], cov[tr], st[va], y[va], cov[va], con, "mse")
    whole = fit_sparse_sa(*args, cfg, log=lambda s: None)
    no_refit = dataclasses.replace(cfg, refit_with_validation=False)
    first = fit_sparse_sa(*args, no_refit, log=lambda s: None)
    lines: list[str] = []
    later = fit_sparse_sa(*args, cfg, log=lines.append, stages=first.stages)
    assert not any(
        s.startswith(("main effects", "screening", "pairs", "relaxation")) for s in lines
    )
    assert later.trace == whole.trace
    for name in ("main_beta", "pairs", "pair_beta", "cov_beta"):
        np.testing.assert_array_equal(getattr(later, name), getattr(whole, name))
    assert later.intercept == whole.intercept
    # the refit moves the coefficients (it sees the validation samples too)
    assert not np.array_equal(first.main_beta, whole.main_beta)

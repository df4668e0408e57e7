"""The sparse engine on CUDA against the same code on CPU (skipped without a CUDA device).

Oracle: the CPU operator, screening and staged fit in float64; on the GPU the states travel as
int8 and every product runs on the device.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genoattn.config import SparseFitConfig
from genoattn.simulate import SimConfig, simulate
from genoattn.sparse.contrasts import fit_contrasts
from genoattn.sparse.fit import fit_sparse_sa
from genoattn.sparse.operator import StatesOperator, all_groups
from genoattn.sparse.screen import StateContrasts, screen_pairs

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]
CUDA = torch.device("cuda")


@pytest.fixture(scope="module")
def data():
    sim = simulate(SimConfig(n_samples=800, n_loci=60, seed=5))
    c = sim.cohort
    tr, va = np.arange(600), np.arange(600, 800)
    con = fit_contrasts(c.states[tr], c.n_states, 3)
    y = torch.as_tensor(sim.trait.values, dtype=torch.float64)
    y = (y - y[tr].mean()) / y[tr].std()
    cov = torch.as_tensor(sim.trait.covariates, dtype=torch.float64)
    cov = (cov - cov[tr].mean(0)) / cov[tr].std(0)
    return torch.as_tensor(c.states), y, cov, con, tr, va


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_gpu__operator_products_match_cpu(data, dtype):
    st, y, cov, con, tr, _ = data
    groups = all_groups(cov.shape[1], st.shape[1], [[0, 5], [3, 9]], [[1, 2, 7]])
    table = torch.as_tensor(con.locus, dtype=dtype)
    cpu = StatesOperator(st, table, cov.to(dtype), groups)
    gpu = StatesOperator(st.to(CUDA), table.to(CUDA), cov.to(dtype).to(CUDA), groups)
    g = torch.Generator().manual_seed(0)
    beta = torch.randn(cpu.shape[1], generator=g, dtype=dtype)
    r = torch.randn(cpu.shape[0], generator=g, dtype=dtype)
    tol = 1e-9 if dtype == torch.float64 else 1e-3
    np.testing.assert_allclose(
        gpu.matvec(beta.to(CUDA)).cpu().numpy(), cpu.matvec(beta).numpy(), rtol=tol, atol=tol
    )
    np.testing.assert_allclose(
        gpu.rmatvec(r.to(CUDA)).cpu().numpy(), cpu.rmatvec(r).numpy(), rtol=tol, atol=tol
    )


def test_gpu__screening_matches_cpu(data):
    st, y, _, con, tr, _ = data
    table = torch.as_tensor(con.locus, dtype=torch.float64)
    r = y[tr] - y[tr].mean()
    p_cpu, s_cpu = screen_pairs(StateContrasts(st[tr], table), r, con.n_active, 30, 16, 0.2)
    src = StateContrasts(st[tr].to(CUDA), table.to(CUDA))
    p_gpu, s_gpu = screen_pairs(src, r.to(CUDA), con.n_active, 30, 16, 0.2)
    np.testing.assert_array_equal(p_gpu, p_cpu)
    np.testing.assert_allclose(s_gpu, s_cpu, rtol=1e-9)


def test_gpu__staged_fit_matches_cpu(data):
    st, y, cov, con, tr, va = data
    cfg = SparseFitConfig(n_lambda=6, max_candidates=20, tol=1e-9, max_iter=20_000)

    def run(dev):
        t = [a.to(dev) for a in (st[tr], y[tr], cov[tr], st[va], y[va], cov[va])]
        return fit_sparse_sa(*t, con, "mse", cfg, log=lambda s: None)

    cpu, gpu = run(torch.device("cpu")), run(CUDA)
    np.testing.assert_array_equal(gpu.pairs, cpu.pairs)
    np.testing.assert_allclose(gpu.main_beta, cpu.main_beta, atol=1e-6)
    np.testing.assert_allclose(gpu.pair_beta, cpu.pair_beta, atol=1e-6)
    assert abs(gpu.intercept - cpu.intercept) < 1e-6


def test_gpu__nonref_route_products_match_cpu():
    """The non-reference route (mutant libraries) on the device: same products as on the CPU."""
    from test_sparse_nonref import _library

    st_np, n_states = _library()
    con = fit_contrasts(st_np, n_states, min_count=1)
    cov = torch.as_tensor(np.random.default_rng(1).standard_normal((len(st_np), 2)))
    groups = all_groups(2, st_np.shape[1], [[0, 1], [2, 5], [1, 23]])
    table = torch.as_tensor(con.locus, dtype=torch.float64)
    st = torch.as_tensor(st_np)
    cpu = StatesOperator(st, table, cov, groups)
    gpu = StatesOperator(st.to(CUDA), table.to(CUDA), cov.to(CUDA), groups)
    assert cpu.nonref is not None and gpu.nonref is not None
    g = torch.Generator().manual_seed(0)
    beta = torch.randn(cpu.shape[1], generator=g, dtype=torch.float64)
    r = torch.randn(cpu.shape[0], generator=g, dtype=torch.float64)
    np.testing.assert_allclose(
        gpu.matvec(beta.to(CUDA)).cpu().numpy(), cpu.matvec(beta).numpy(), atol=1e-9
    )
    np.testing.assert_allclose(
        gpu.rmatvec(r.to(CUDA)).cpu().numpy(), cpu.rmatvec(r).numpy(), atol=1e-9
    )

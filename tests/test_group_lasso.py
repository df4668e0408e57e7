"""Group-lasso solvers against their optimality conditions, least squares and lambda_max.

Oracles: the KKT conditions of

    min_{b0, beta} loss(b0 + X beta + offset, y) + sum_g pen_g ||beta_g||

(zero group: ||X_g^T r|| / n <= pen_g; non-zero group: X_g^T r / n = -pen_g beta_g / ||beta_g||;
intercept: sum r = 0, with r = d loss / d eta), numpy's lstsq for pen = 0, and the definition of
lambda_max (smallest penalty at which every penalised group is zero).
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genoattn.sparse.group_lasso import (
    lambda_max,
    solve_active_set,
    solve_group_lasso,
)

BLOCKS = [(2, 1), (5, 2), (4, 4)]  # p = 2 + 10 + 16 = 28 columns, 11 groups
N = 240


def _group_slices(blocks):
    out, start = [], 0
    for count, width in blocks:
        for _ in range(count):
            out.append(slice(start, start + width))
            start += width
    return out


def _problem(loss: str, seed: int):
    """Random design with correlated columns, a sparse true beta, and per-group penalties."""
    rng = np.random.default_rng(seed)
    p = sum(c * w for c, w in BLOCKS)
    x = rng.standard_normal((N, p)) + 0.3 * rng.standard_normal((N, 1))
    beta = np.zeros(p)
    sl = _group_slices(BLOCKS)
    for g in (0, 3, 8):  # three true groups
        beta[sl[g]] = rng.standard_normal(sl[g].stop - sl[g].start)
    eta = 0.5 + x @ beta
    if loss == "mse":
        y = eta + rng.standard_normal(N)
    else:
        y = (rng.random(N) < 1 / (1 + np.exp(-eta))).astype(float)
    weights = np.sqrt([sl_.stop - sl_.start for sl_ in sl])
    return torch.tensor(x), torch.tensor(y), torch.tensor(weights)


def _residual(x, y, beta, b0, loss, offset=None):
    eta = b0 + x @ beta + (0 if offset is None else offset)
    r = eta - y if loss == "mse" else torch.sigmoid(eta) - y
    return r  # d (n * loss) / d eta


def _check_kkt(x, y, res, pen, loss, offset=None, tol=2e-4):
    """Assert the group-lasso KKT conditions hold at ``res`` (absolute tolerance ``tol``)."""
    n = x.shape[0]
    r = _residual(x, y, res.beta, res.intercept, loss, offset)
    assert abs(float(r.sum()) / n) < tol, "intercept stationarity"
    grad = (x.T @ r / n).numpy()
    beta = res.beta.numpy()
    pen = pen.numpy()
    n_zero = n_nonzero = 0
    for g, sl in enumerate(_group_slices(BLOCKS)):
        bg, gg = beta[sl], grad[sl]
        norm = np.linalg.norm(bg)
        if norm == 0:
            n_zero += 1
            assert np.linalg.norm(gg) <= pen[g] + tol, (g, np.linalg.norm(gg), pen[g])
        else:
            n_nonzero += 1
            np.testing.assert_allclose(gg, -pen[g] * bg / norm, atol=tol, err_msg=f"group {g}")
    return n_zero, n_nonzero


@pytest.mark.parametrize("loss", ["mse", "logistic"])
def test_group_lasso__solution_satisfies_kkt(loss):
    x, y, w = _problem(loss, seed=1)
    lmax = lambda_max(x, y, BLOCKS, w, loss)
    pen = 0.3 * lmax * w
    res = solve_group_lasso(x, y, BLOCKS, pen, loss, max_iter=50_000, tol=1e-10)
    assert res.converged
    n_zero, n_nonzero = _check_kkt(x, y, res, pen, loss)
    # the penalty is in the interesting range: some groups in, some out
    assert n_zero > 0 and n_nonzero > 0


def test_group_lasso__kkt_with_offset_and_unpenalised_groups():
    x, y, w = _problem("mse", seed=2)
    rng = np.random.default_rng(2)
    offset = torch.tensor(rng.standard_normal(N))
    y = y + offset
    pen = 0.2 * lambda_max(x, y, BLOCKS, w, "mse", offset=offset) * w
    pen[:2] = 0.0  # the two width-1 groups are unpenalised (covariates)
    res = solve_group_lasso(x, y, BLOCKS, pen, "mse", offset=offset, max_iter=50_000, tol=1e-10)
    assert res.converged
    _check_kkt(x, y, res, pen, "mse", offset=offset)


def test_group_lasso__no_penalty_equals_least_squares():
    x, y, _ = _problem("mse", seed=3)
    g = sum(c for c, _ in BLOCKS)
    res = solve_group_lasso(
        x, y, BLOCKS, torch.zeros(g, dtype=x.dtype), "mse", max_iter=100_000, tol=1e-12
    )
    design = np.c_[np.ones(N), x.numpy()]
    coef = np.linalg.lstsq(design, y.numpy(), rcond=None)[0]
    np.testing.assert_allclose(res.intercept, coef[0], atol=1e-5)
    np.testing.assert_allclose(res.beta.numpy(), coef[1:], atol=1e-5)


@pytest.mark.parametrize("loss", ["mse", "logistic"])
def test_group_lasso__lambda_max_is_the_zero_threshold(loss):
    x, y, w = _problem(loss, seed=4)
    lmax = lambda_max(x, y, BLOCKS, w, loss)
    above = solve_group_lasso(x, y, BLOCKS, 1.001 * lmax * w, loss, max_iter=20_000, tol=1e-10)
    assert float(above.beta.abs().max()) == 0.0
    # intercept-only fit: the mean (mse) or the logit of the case fraction (logistic)
    ybar = float(y.mean())
    want = ybar if loss == "mse" else np.log(ybar / (1 - ybar))
    np.testing.assert_allclose(above.intercept, want, atol=1e-6)
    below = solve_group_lasso(x, y, BLOCKS, 0.95 * lmax * w, loss, max_iter=20_000, tol=1e-10)
    assert float(below.beta.abs().max()) > 0.0


@pytest.mark.parametrize("loss", ["mse", "logistic"])
def test_group_lasso__active_set_equals_plain_solver(loss):
    x, y, w = _problem(loss, seed=5)
    pen = 0.4 * lambda_max(x, y, BLOCKS, w, loss) * w
    plain = solve_group_lasso(x, y, BLOCKS, pen, loss, max_iter=50_000, tol=1e-10)
    active = solve_active_set(x, y, BLOCKS, pen, loss, max_iter=50_000, tol=1e-10)
    np.testing.assert_allclose(active.beta.numpy(), plain.beta.numpy(), atol=1e-5)
    np.testing.assert_allclose(active.intercept, plain.intercept, atol=1e-5)
    _check_kkt(x, y, active, pen, loss)
    # warm start from a different point converges to the same (unique) solution
    warm = solve_active_set(
        x,
        y,
        BLOCKS,
        pen,
        loss,
        beta0=torch.ones_like(plain.beta),
        intercept0=0.0,
        max_iter=50_000,
        tol=1e-10,
    )
    np.testing.assert_allclose(warm.beta.numpy(), plain.beta.numpy(), atol=1e-5)

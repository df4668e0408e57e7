"""Firth's penalised logistic regression against a direct numerical maximisation of
l(beta) + 1/2 log|X^T W X| (naive reference), finite under separation, and nested null fits."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.optimize import minimize

from genoattn.interpret.firth import firth_logistic


def _naive_penalised_ll(beta, x, y, x_pen_of_beta):
    eta = x @ beta
    ll = float(np.sum(y * eta - np.logaddexp(0.0, eta)))
    mu = 1.0 / (1.0 + np.exp(-eta))
    xp = x_pen_of_beta
    info = xp.T @ (xp * (mu * (1 - mu))[:, None])
    return ll + 0.5 * np.linalg.slogdet(info)[1]


def _data(n=60, seed=0):
    rng = np.random.default_rng(seed)
    g = rng.integers(0, 3, size=(n, 2)).astype(np.float64)
    x1 = np.c_[np.ones(n), g, g[:, 0] * g[:, 1]]
    y = (rng.random(n) < 1 / (1 + np.exp(-(-0.5 + 0.4 * g[:, 0])))).astype(np.float64)
    return x1, y


def _fit(x, y, x_pen=None):
    t = lambda a: torch.as_tensor(a, dtype=torch.float64)[None]  # noqa: E731
    w = torch.ones(1, len(y), dtype=torch.float64)
    out = firth_logistic(t(x), torch.as_tensor(y), w, None if x_pen is None else t(x_pen))
    return out[0][0].numpy(), float(out[2][0])


def test_firth__matches_direct_maximisation_of_the_penalised_likelihood():
    x1, y = _data()
    beta, dev = _fit(x1, y)
    ref = minimize(lambda b: -_naive_penalised_ll(b, x1, y, x1), np.zeros(4), method="BFGS",
                   options={"gtol": 1e-10})  # fmt: skip
    np.testing.assert_allclose(beta, ref.x, atol=1e-5)
    assert dev == pytest.approx(2 * ref.fun, rel=1e-8)


def test_firth__null_fit_uses_the_full_models_penalty():
    x1, y = _data(seed=1)
    x0 = x1[:, :3]  # without the product column
    gamma, dev0 = _fit(x0, y, x_pen=x1)

    def own_penalty(g):
        return -_naive_penalised_ll(g, x0, y, x0)

    # the penalty's information is the full design's, at the null fit's probabilities
    def neg_full_pen(g):
        eta = x0 @ g
        ll = float(np.sum(y * eta - np.logaddexp(0.0, eta)))
        mu = 1.0 / (1.0 + np.exp(-eta))
        info = x1.T @ (x1 * (mu * (1 - mu))[:, None])
        return -(ll + 0.5 * np.linalg.slogdet(info)[1])

    ref = minimize(neg_full_pen, np.zeros(3), method="BFGS", options={"gtol": 1e-10})
    np.testing.assert_allclose(gamma, ref.x, atol=1e-5)
    assert dev0 == pytest.approx(2 * ref.fun, rel=1e-8)
    # the two penalties differ: which design gives the penalty matters
    assert own_penalty(gamma) != pytest.approx(neg_full_pen(gamma))


def test_firth__finite_under_complete_separation():
    x = np.c_[np.ones(20), np.r_[np.zeros(10), np.ones(10)]]
    y = np.r_[np.zeros(10), np.ones(10)]  # the MLE of the slope is +infinity
    beta, dev = _fit(x, y)
    assert np.isfinite(beta).all() and np.isfinite(dev)
    # the closed form for a 2x2 table: Firth adds 1/2 to every cell, slope = log(10.5^2 / 0.5^2)
    assert beta[1] == pytest.approx(np.log((10.5 / 0.5) ** 2), rel=1e-6)

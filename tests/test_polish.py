"""Additive polish (genoattn/sparse/polish.py, system/routes.additive_polish).

Oracles: the posterior mean of one coefficient under the mixture prior by numerical integration;
planted sparse linear signal (and pure noise); the polished model's predictions rebuilt by hand
from the per-locus effects; held-out R^2 of a cohort with small additive loci.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from genoattn.config import FitConfig, from_dict
from genoattn.simulate import SimConfig, simulate
from genoattn.sparse.polish import mr_ash, polish_dosages, posterior
from genoattn.system.fit import fit
from genoattn.system.metrics import r2_score
from genoattn.system.predictor import predict_batched
from genoattn.system.routes import FitInputs, additive_polish
from genoattn.system.rundir import load_run
from genoattn.system.split import make_split

QUIET = lambda s: None  # noqa: E731


def test_posterior__one_coefficient_equals_numerical_integration():
    rng = np.random.default_rng(0)
    x = rng.normal(size=50)
    y = 0.3 * x + rng.normal(size=50)
    sigma2, sa2 = 0.9, np.array([0.0, 0.01, 0.1, 1.0])
    pi = np.array([0.4, 0.3, 0.2, 0.1])
    phi, mu, s2k = posterior(float(x @ y), float(x @ x), sigma2, pi, sa2)
    # p(b | y) = pi_0 delta_0 L(0) + sum_k>0 pi_k N(b; 0, s2 sa2_k) L(b), L(b) = N(y; x b, s2 I)
    b = np.linspace(-3, 3, 600_001)
    loglik = lambda v: -0.5 * ((y[None, :] - np.outer(v, x)) ** 2).sum(1) / sigma2  # noqa: E731
    lb = loglik(b)
    ref = lb.max()
    slab = sum(
        p * np.exp(-0.5 * b**2 / (sigma2 * s)) / np.sqrt(2 * np.pi * sigma2 * s)
        for p, s in zip(pi[1:], sa2[1:], strict=True)
    ) * np.exp(lb - ref)
    step = b[1] - b[0]
    mass_slab = slab.sum() * step
    mass_zero = pi[0] * np.exp(loglik(np.zeros(1))[0] - ref)
    mean = (b * slab).sum() * step / (mass_slab + mass_zero)
    second = (b * b * slab).sum() * step / (mass_slab + mass_zero)
    assert phi[0] == pytest.approx(mass_zero / (mass_slab + mass_zero), rel=1e-6)
    assert float(phi @ mu) == pytest.approx(mean, rel=1e-6)
    assert float(phi @ (mu * mu + s2k)) == pytest.approx(second, rel=1e-6)


def test_mr_ash__planted_sparse_signal_and_pure_noise():
    rng = np.random.default_rng(1)
    n, p = 800, 200
    x = rng.normal(size=(n, p))
    x -= x.mean(0)
    beta = np.zeros(p)
    beta[:8] = [0.5, -0.4, 0.3, 0.25, -0.2, 0.15, 0.1, -0.1]
    y = x @ beta + rng.normal(size=n)
    fit_ = mr_ash(x, y - y.mean())
    assert fit_.converged and abs(fit_.sigma2 - 1.0) < 0.15
    assert np.abs(fit_.beta[:4] - beta[:4]).max() < 0.1
    assert np.abs(fit_.beta[20:]).max() < 0.1  # nulls shrunk towards 0
    xt = rng.normal(size=(2000, p))
    yt = xt @ beta + rng.normal(size=2000)
    ols = np.linalg.lstsq(x, y - y.mean(), rcond=None)[0]  # every column, unshrunk
    assert r2_score(yt, xt @ fit_.beta) > r2_score(yt, xt @ ols) + 0.05
    noise = mr_ash(x, rng.normal(size=n))
    # nothing to find: the prior keeps its mass on (near-)zero effects, the fit explains ~0
    assert np.var(x @ noise.beta) < 0.01 and np.abs(noise.beta).max() < 0.05


@pytest.fixture(scope="module")
def additive_cohort(tmp_path_factory):
    """20 small additive loci (20 % of the variance between them), no interaction."""
    sim = simulate(SimConfig(n_samples=2000, n_loci=300, pairs=[], n_additive=20,
                             h2_additive=0.2, seed=4))  # fmt: skip
    ds = sim.dataset()
    runs = {}
    for polish in (False, True):
        cfg = {"model": {"sparse": {"polish": polish}}, "train": {"seed": 0, "progress": False}}
        work = tmp_path_factory.mktemp("polish") / f"run_{polish}"
        fit(ds, from_dict(FitConfig, cfg), work, overwrite=True, baseline=False, log=QUIET)
        runs[polish] = load_run(work)
    return sim, ds, runs


def test_additive_polish__model_gains_the_per_locus_effects(additive_cohort):
    _, ds, runs = additive_cohort
    run = runs[False]
    prep = FitInputs(ds, make_split(ds.cohort.n_samples, run.cfg.train))
    pred = copy.deepcopy(run.predictor)
    mcfg = copy.deepcopy(run.cfg.model)
    mcfg.sparse.polish = True
    additive_polish(pred, prep, mcfg, QUIET)
    rows = np.sort(np.r_[prep.split["train"], prep.split["val"]])
    cov = torch.as_tensor(ds.covariates, dtype=torch.float32)
    before = predict_batched(
        run.predictor, lambda sl: ds.cohort.tokens(np.arange(len(cov))[sl]), cov
    )
    after = predict_batched(pred, lambda sl: ds.cohort.tokens(np.arange(len(cov))[sl]), cov)
    resid = prep.y[rows] - (before[rows] - prep.y_mean) / prep.y_std
    loci = np.flatnonzero(ds.cohort.is_biallelic())
    pol = polish_dosages(np.asarray(ds.cohort.states)[rows], loci, resid)
    g = np.asarray(ds.cohort.states)[:, loci].astype(np.float64)
    g = np.where(g < 0, pol.centre, g)
    by_hand = ((g - pol.centre) @ pol.effect + pol.offset) * prep.y_std
    np.testing.assert_allclose(after - before, by_hand, atol=1e-4 * prep.y_std)
    # the run fit with the polish on holds exactly this model
    polished = predict_batched(
        runs[True].predictor, lambda sl: ds.cohort.tokens(np.arange(len(cov))[sl]), cov
    )
    np.testing.assert_allclose(polished, after, atol=1e-4 * prep.y_std)


def test_additive_polish__raises_heldout_r2_with_small_additive_loci(additive_cohort):
    sim, ds, runs = additive_cohort
    te = runs[True].split["test"]
    y, signal = ds.y.astype(np.float64), sim.genetic_value + sim.covariate_value
    cov = torch.as_tensor(ds.covariates[te], dtype=torch.float32)
    r2 = {}
    for polish, run in runs.items():
        p = predict_batched(run.predictor, lambda sl: ds.cohort.tokens(te[sl]), cov)
        r2[polish] = r2_score(y[te], p) / r2_score(y[te], signal[te] + (y[te] - signal[te]).mean())
    assert r2[True] > r2[False] + 0.02, r2

"""Logistic product test for case/control traits from genotype-cell counts (PLINK's OR_INT).

Axis legend: k = 9 genotype cells (3 g_a + g_b), p = 4 coefficients [1, g_a, g_b, g_a g_b].

Without covariates the likelihood of logit P(case) = b0 + b1 g_a + b2 g_b + b3 g_a g_b depends on
the samples only through the 3x3 table of sample counts N_k and case counts S_k, so each pair's
maximum-likelihood fit is a Newton-Raphson iteration on 9 cells (batched over all pairs of a tile),
not on n samples: score X'(S - N p), information X' diag(N p (1 - p)) X. BETA_INT = b3 (log odds
ratio), SE from the inverse information at the MLE, STAT = (b3 / SE)^2 (Wald, 1 df), as
``plink1.9 --epistasis`` reports for a case/control phenotype (OR_INT = exp(b3)). Pairs whose fit
does not converge (complete separation: a cell combination with only cases or only controls) or
whose information is singular get NaN.
"""

from __future__ import annotations

import torch

from genoattn.interpret.scan.kernels import _XCELL
from genoattn.stats.teststats import ProductStats

MAX_ITER = 50
TOL = 1e-10  # largest Newton step (in log odds) at convergence


def logistic_from_cells(cells: torch.Tensor, y_mean: float) -> ProductStats:
    """Logistic product test from cell sums (..., 9, m) whose weight column 1 is y - y_mean.

    Returns:
        beta (log odds ratio of g_a g_b), se, n: shape (...), float64.
    """
    n_k = cells[..., 0]  # (..., 9) samples per cell
    s_k = cells[..., 1] + n_k * y_mean  # cases per cell (weights carry the centred trait)
    s_k = torch.round(s_k)  # counts: remove the centring's round-off
    x = _XCELL.to(cells.device)  # (9, 4)
    n = n_k.sum(-1)
    rate = (s_k.sum(-1) / n.clamp_min(1)).clamp(1e-6, 1 - 1e-6)
    beta = cells.new_zeros(n.shape + (4,))
    beta[..., 0] = torch.log(rate / (1 - rate))
    done = torch.zeros_like(n, dtype=torch.bool)
    ok = torch.ones_like(done)
    info = None
    for _ in range(MAX_ITER):
        p = torch.sigmoid(beta @ x.T)  # (..., 9)
        w = n_k * p * (1 - p)
        info = torch.einsum("...k,kp,kq->...pq", w, x, x)
        score = torch.einsum("...k,kp->...p", s_k - n_k * p, x)
        step, err = torch.linalg.solve_ex(info, score)
        ok = ok & (err == 0) & torch.isfinite(step).all(-1)
        step = torch.where(ok[..., None] & ~done[..., None], step, 0.0)
        beta = beta + step
        done = done | (step.abs().amax(-1) < TOL)
        if bool((done | ~ok).all()):
            break
    p = torch.sigmoid(beta @ x.T)
    info = torch.einsum("...k,kp,kq->...pq", n_k * p * (1 - p), x, x)
    cov, err = torch.linalg.inv_ex(info)
    se = torch.sqrt(cov[..., 3, 3].clamp_min(0))
    # a huge coefficient with a huge SE is separation that stopped moving: not a finite MLE
    good = ok & done & (err == 0) & (beta[..., 3].abs() < 30) & torch.isfinite(se)
    nan = torch.full_like(n, float("nan"))
    return ProductStats(torch.where(good, beta[..., 3], nan), torch.where(good, se, nan), n)

"""Firth's penalised-likelihood logistic regression, batched over tuples, for held-out confirmation.

Axis legend: k tuples (pairs or triples), n samples, p design columns.

Firth (1993) maximises l*(beta) = l(beta) + 1/2 log |I(beta)|, with I = X^T W X, W = diag(w mu (1 -
mu)): the Jeffreys-prior penalty removes the O(1/n) bias of the MLE and keeps the estimates finite
under (quasi-)complete separation, which sparse genotype cells of a few hundred test samples
produce often. The modified score is U*(beta) = X^T (w (y - mu) + h (1/2 - mu)), h the diagonal
of the hat matrix W^1/2 X I^-1 X^T W^1/2 (Heinze & Schemper 2002, Eq. 2).

Tests use the penalised likelihood ratio (Heinze & Schemper 2002, Sec. 2.2): the null model is
fit with the penalty of the FULL model's information, |I_1(beta)| evaluated at the constrained
estimate (as R's logistf does), so that both penalties live in the same parametrisation. Rank
deficient designs (genotype cells absent from the samples) use the pseudo-determinant and the
pseudo-inverse: the absent cells' directions are the same in both fits.

Without a naive loop over tuples this is a handful of batched (k, p, p) eigendecompositions per
Newton step; p is at most 27 cells plus covariates.
"""

from __future__ import annotations

import torch

_EPS = 1e-10  # relative eigenvalue floor of the pseudo-inverse / pseudo-determinant
MAX_STEP = 5.0  # largest change of any coefficient in one Newton step (logistf's maxstep)


def _pinv_logdet(g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Pseudo-inverse (..., p, p) and log pseudo-determinant (...,) of symmetric PSD matrices."""
    e, v = torch.linalg.eigh(g)
    keep = e > _EPS * e.amax(-1, keepdim=True).clamp_min(1e-300)
    safe = torch.where(keep, e, torch.ones_like(e))
    inv = (v * torch.where(keep, 1.0 / safe, 0.0)[..., None, :]) @ v.mT
    return inv, torch.where(keep, safe.log(), 0.0).sum(-1)


def _parts(x_pen: torch.Tensor, eta: torch.Tensor, w: torch.Tensor):
    """mu (k, n), weights w mu (1 - mu) (k, n), hat diagonal h (k, n) and log|I| of x_pen."""
    mu = torch.sigmoid(eta)
    wv = w * mu * (1.0 - mu)
    inv, logdet = _pinv_logdet((x_pen * wv[..., None]).mT @ x_pen)
    h = wv * torch.einsum("knp,kpq,knq->kn", x_pen, inv, x_pen)
    return mu, wv, h, logdet


def penalised_deviance(
    x: torch.Tensor, beta: torch.Tensor, y: torch.Tensor, w: torch.Tensor, x_pen: torch.Tensor
) -> torch.Tensor:
    """-2 l*(beta) (k,) of design x at beta, with the penalty of design x_pen's information."""
    eta = (x @ beta[..., None])[..., 0].clamp(-30, 30)
    ll = y * torch.nn.functional.logsigmoid(eta) + (1 - y) * torch.nn.functional.logsigmoid(-eta)
    _, _, _, logdet = _parts(x_pen, eta, w)
    return -2.0 * ((w * ll).sum(-1) + 0.5 * logdet)


def firth_logistic(
    x: torch.Tensor,
    y: torch.Tensor,
    w: torch.Tensor,
    x_pen: torch.Tensor | None = None,
    iters: int = 100,
    tol: float = 1e-9,
    beta0: torch.Tensor | None = None,
):
    """Firth logistic fit of each tuple's design.

    Newton steps on the modified score with step halving (a step that lowers l* is halved, up to
    30 times, as in logistf), so l* never decreases from the start ``beta0``.

    Args:
        x: shape (k, n, p), float64 design. y: shape (n,), 0/1. w: shape (k, n), 0/1 row mask.
        x_pen: shape (k, n, p1), the design whose information gives the penalty (the full model
            when ``x`` is a null model nested in it); ``x`` itself when None.
        beta0: shape (k, p), starting point (zeros when None).

    Returns:
        beta (k, p), the pseudo-inverse of x's information at beta (k, p, p) and the penalised
        deviance -2 l*(beta) (k,).
    """
    x_pen = x if x_pen is None else x_pen
    beta = x.new_zeros(x.shape[0], x.shape[2]) if beta0 is None else beta0.clone()
    dev = penalised_deviance(x, beta, y, w, x_pen)
    for _ in range(iters):
        eta = (x @ beta[..., None])[..., 0].clamp(-30, 30)
        mu, wv, h, _ = _parts(x_pen, eta, w)
        score = (x * (w * (y[None, :] - mu) + h * (0.5 - mu))[..., None]).sum(1)  # (k, p)
        inv, _ = _pinv_logdet((x * wv[..., None]).mT @ x)
        step = (inv @ score[..., None])[..., 0]
        big = step.abs().amax(-1, keepdim=True)
        step = step * torch.where(big > MAX_STEP, MAX_STEP / big.clamp_min(1e-300), 1.0)
        for _ in range(30):  # step halving where the penalised likelihood would drop
            new = penalised_deviance(x, beta + step, y, w, x_pen)
            worse = new > dev + 1e-10 * dev.abs().clamp_min(1.0)
            if not bool(worse.any()):
                break
            step = torch.where(worse[:, None], step / 2, step)
        beta = beta + step
        dev = new
        if float(step.abs().max()) < tol:
            break
    eta = (x @ beta[..., None])[..., 0].clamp(-30, 30)
    _, wv, _, _ = _parts(x_pen, eta, w)
    inv, _ = _pinv_logdet((x * wv[..., None]).mT @ x)
    return beta, inv, dev


def nested_firth(x1: torch.Tensor, x0: torch.Tensor, y: torch.Tensor, w: torch.Tensor):
    """Firth fits of a full design x1 (k, n, p1) and a null design x0 (k, n, p0) nested in it.

    The null is fit first, with the full model's penalty; the full fit starts from the null's
    linear predictor mapped into x1's columns (weighted least squares, exact because span(x0) is
    in span(x1)), so with step halving l*_1 >= l*_0 and the penalised LR statistic
    dev0 - dev1 is never negative by a failure to find the full model's optimum.

    Returns:
        (beta1 (k, p1), inverse information of x1 (k, p1, p1), dev1 (k,)) and dev0 (k,).
    """
    b0, _, dev0 = firth_logistic(x0, y, w, x_pen=x1)
    eta0 = (x0 @ b0[..., None])[..., 0]
    inv, _ = _pinv_logdet((x1 * w[..., None]).mT @ x1)
    start = (inv @ (x1 * (w * eta0)[..., None]).sum(1)[..., None])[..., 0]
    return firth_logistic(x1, y, w, beta0=start), dev0

"""Squared-error group lasso through the Gram matrix, for many samples and few columns.

Axis legend: n samples, p columns, g groups.

For mse every quantity of the solver is a function of G = X^T X, c = X^T 1, X^T y, sum(y) and n:

    n * grad_beta = G beta + c b0 - X^T y,    n * grad_b0 = c . beta + n b0 - sum(y),

and the KKT check of an excluded group is the same gradient. So when n >> p (a sequence
library: 5e5 samples, 55 loci x 20 contrasts) the design is passed over once, tile by tile,
to accumulate G (p x p), and every FISTA iteration and KKT check afterwards costs O(p^2)
instead of O(n p). The iterates are those of :func:`solve_group_lasso` on the same problem.
"""

from __future__ import annotations

import copy

import torch

from genoattn.sparse.group_lasso import (
    GroupLassoResult,
    group_norms,
    group_soft_threshold,
    momentum,
    select_groups,
)
from genoattn.sparse.operator import StatesOperator


class GramDesign:
    """Sufficient statistics of one mse problem on the design ``op`` and trait ``y`` (n,).

    gram: (p, p) float64; xt1: (p,); xty: (p,); ysum, n: scalars. Built in sample tiles of
    ``rows`` (the only n-sized work).
    """

    def __init__(self, op: StatesOperator, y: torch.Tensor, rows: int = 8192):
        n, p = op.shape
        f64 = dict(dtype=torch.float64, device=op.device)
        self.gram = torch.zeros(p, p, **f64)
        self.xt1 = torch.zeros(p, **f64)
        self.xty = torch.zeros(p, **f64)
        for i0 in range(0, n, rows):
            sub = op.rows(op.states[i0 : i0 + rows], op.cov[i0 : i0 + rows])
            xt = sub.dense()  # (nb, p) in the compute dtype
            self.gram += (xt.T @ xt).double()
            self.xt1 += xt.sum(0).double()
            self.xty += (xt.T @ y[i0 : i0 + rows]).double()
        self.ysum, self.n = float(y.double().sum()), n
        self.blocks, self.dtype, self.device = op.blocks, op.dtype, op.device
        self._bound()

    def _bound(self) -> None:
        """(||X||^2 * 1.05 + n) / n, as lipschitz() bounds the augmented design [X 1]."""
        p = self.gram.shape[0]
        self.shape = (self.n, p)
        top = float(torch.linalg.eigvalsh(self.gram)[-1]) if p else 0.0
        self.lip = (top * 1.05 + self.n) / self.n

    def select(self, keep: torch.Tensor) -> GramDesign:
        """The problem restricted to the groups in ``keep`` (g,) bool: sub-blocks, no pass over
        the samples."""
        cols = select_groups(self.blocks, keep)
        out = copy.copy(self)
        out.gram, out.xt1, out.xty = self.gram[cols][:, cols], self.xt1[cols], self.xty[cols]
        out.blocks, g0 = [], 0
        for count, width in self.blocks:
            out.blocks.append((int(keep[g0 : g0 + count].sum()), width))
            g0 += count
        out._bound()
        return out

    def cat_rows(self, other: GramDesign) -> GramDesign:
        """The problem on the samples of both (sufficient statistics add up)."""
        out = copy.copy(self)
        out.gram, out.xt1, out.xty = (
            self.gram + other.gram,
            self.xt1 + other.xt1,
            self.xty + other.xty,
        )
        out.ysum, out.n = self.ysum + other.ysum, self.n + other.n
        out._bound()
        return out

    def gradient(self, beta: torch.Tensor, b0: float) -> tuple[torch.Tensor, float]:
        """(X^T r, 1^T r) with r = (b0 + X beta - y) / n, over all p columns."""
        g = (self.gram @ beta + self.xt1 * b0 - self.xty) / self.n
        return g, float((self.xt1 @ beta + self.n * b0 - self.ysum) / self.n)

    def solve(self, pen, beta0=None, intercept0=None, max_iter=2000, tol=1e-5, max_rounds=20):
        """:func:`solve_active_set` for mse (penalties ``pen`` (g,) per group)."""
        p = self.shape[1]
        beta = torch.zeros(p, dtype=torch.float64, device=self.device)
        if beta0 is not None:
            beta = beta0.double().clone()
        b0 = self.ysum / self.n if intercept0 is None else intercept0
        pen = pen.double()
        work = (group_norms(beta, self.blocks) > 0) | (pen == 0)
        res = None
        for _ in range(max_rounds):
            cols = select_groups(self.blocks, work)
            res = self._fista(cols, work, pen[work], beta[cols], b0, max_iter, tol)
            beta = torch.zeros_like(beta)
            beta[cols] = res.beta
            b0 = res.intercept
            grad, _ = self.gradient(beta, b0)
            viol = (group_norms(grad, self.blocks) > pen * (1 + 1e-3) + 1e-12) & ~work
            if not bool(viol.any()):
                break
            work |= viol
        assert res is not None
        out = beta.to(self.dtype)
        return GroupLassoResult(out, float(b0), res.n_iter, res.converged)

    def _fista(self, cols, work, pen, beta, b0, max_iter, tol) -> GroupLassoResult:
        """FISTA with adaptive restart on the working columns (as solve_group_lasso)."""
        gw, cw, yw = self.gram[cols][:, cols], self.xt1[cols], self.xty[cols]
        counts, new_blocks, g0 = [], [], 0
        for count, width in self.blocks:
            counts.append(int(work[g0 : g0 + count].sum()))
            new_blocks.append((counts[-1], width))
            g0 += count
        step = 1.0 / self.lip
        blocks_a = [*new_blocks, (1, 1)]
        thresh = torch.cat([pen * step, pen.new_zeros(1)])
        k = beta.numel()
        x = torch.cat([beta, beta.new_tensor([b0])])
        z, t, converged, n_iter = x.clone(), 1.0, False, 0
        for n_iter in range(1, max_iter + 1):  # noqa: B007 (reported in the result)
            gb = (gw @ z[:k] + cw * z[k] - yw) / self.n
            g1 = (cw @ z[:k] + self.n * z[k] - self.ysum) / self.n
            new = group_soft_threshold(z - step * torch.cat([gb, g1.reshape(1)]), blocks_a, thresh)
            z, t, delta, scale = momentum(z, new, x, t)
            x = new
            if delta < tol * max(scale, 1.0):
                converged = True
                break
        return GroupLassoResult(x[:k].clone(), float(x[k]), n_iter, converged)

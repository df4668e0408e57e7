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

#: Largest (m, m, K, K) table of co-occurring non-reference states of the sparse Gram route.
COCOUNT_MAX = 1 << 26


def sparse_main_stats(op: StatesOperator, y: torch.Tensor):
    """(X^T X, X^T 1, X^T y) in float64 of a covariates + main-effects design on the sparse
    route (``nonref.py``), or None when the operator is not such a design.

    With z0 the contrasts of the reference states and u_(a,s) = T_a[s] - T_a[r_a], a sample's
    row is z0 + sum of u over its non-reference entries (Delta), so
        Z^T Z = n z0 z0^T + z0 w^T + w z0^T + Delta^T Delta,   w = Delta^T 1,
    and Delta^T Delta has diagonal blocks sum_s N_a[s] u u^T and off-diagonal blocks
    U_a^T N_ab U_b with N_ab the counts of co-occurring non-reference states: O(entries) work.
    """
    nr, g = op.nonref, op.groups
    if nr is None or len(g.pairs) or len(g.triples):
        return None
    dev, k = op.device, op.k
    main = torch.as_tensor(g.main, device=dev)
    m = len(main)
    if m * m * k * k > COCOUNT_MAX:
        return None
    t = op.table[main].double()  # (m, K, d)
    d = t.shape[2]
    am = torch.arange(m, device=dev)
    z0 = t[am, nr.ref[main]]  # (m, d)
    u = t - z0[:, None, :]
    pos = torch.full((nr.l,), -1, dtype=torch.int64, device=dev)
    pos[main] = am
    ep = pos[nr.locus]
    ok = ep >= 0
    cell, rows = ep[ok] * k + nr.state[ok], nr.row[ok]
    cov = op.cov[:, torch.as_tensor(g.cov, device=dev)].double()  # (n, c)
    yd = y.double()
    f64 = dict(dtype=torch.float64, device=dev)
    cnt = torch.zeros(m * k, **f64).index_add_(0, cell, torch.ones(len(cell), **f64))
    sy = torch.zeros(m * k, **f64).index_add_(0, cell, yd[rows])
    sc = torch.zeros(m * k, cov.shape[1], **f64).index_add_(0, cell, cov[rows])
    co = torch.zeros(m * m * k * k, **f64)
    pr = nr.pairs
    pa, pb = pos[nr.locus[pr[:, 0]]], pos[nr.locus[pr[:, 1]]]
    both = (pa >= 0) & (pb >= 0)
    sa, sb = nr.state[pr[both, 0]], nr.state[pr[both, 1]]
    pa, pb = pa[both], pb[both]
    ones = torch.ones(len(pa), **f64)
    co.index_add_(0, ((pa * m + pb) * k + sa) * k + sb, ones)
    co.index_add_(0, ((pb * m + pa) * k + sb) * k + sa, ones)
    cnt, sy = cnt.view(m, k), sy.view(m, k)
    w = torch.einsum("ak,akd->ad", cnt, u).reshape(-1)  # (m d,)
    dtd = torch.einsum("asu,abst,btv->aubv", u, co.view(m, m, k, k), u).reshape(m * d, m * d)
    diag = torch.einsum("ak,aku,akv->auv", cnt, u, u)  # (m, d, d)
    if m:
        dtd += torch.block_diag(*diag)
    zf, n = z0.reshape(-1), op.shape[0]
    gzz = n * torch.outer(zf, zf) + torch.outer(zf, w) + torch.outer(w, zf) + dtd
    c1 = cov.sum(0)
    c = cov.shape[1]
    gcz = torch.einsum("akc,akd->cad", sc.view(m, k, c), u).reshape(c, m * d)
    gcz += torch.outer(c1, zf)
    gram = torch.cat([torch.cat([cov.T @ cov, gcz], 1), torch.cat([gcz.T, gzz], 1)])
    xt1 = torch.cat([c1, n * zf + w])
    xty = torch.cat([cov.T @ yd, yd.sum() * zf + torch.einsum("ak,akd->ad", sy, u).reshape(-1)])
    return gram, xt1, xty


class GramDesign:
    """Sufficient statistics of one mse problem on the design ``op`` and trait ``y`` (n,).

    gram: (p, p) float64; xt1: (p,); xty: (p,); ysum, n: scalars. Built in sample tiles of
    ``rows`` (the only n-sized work).
    """

    def __init__(self, op: StatesOperator, y: torch.Tensor, rows: int = 8192):
        n, p = op.shape
        f64 = dict(dtype=torch.float64, device=op.device)
        stats = sparse_main_stats(op, y)
        if stats is not None:
            self.gram, self.xt1, self.xty = stats
        else:
            self.gram = torch.zeros(p, p, **f64)
            self.xt1 = torch.zeros(p, **f64)
            self.xty = torch.zeros(p, **f64)
        for i0 in range(0, n if stats is None else 0, rows):
            sl = slice(i0, i0 + rows)
            sub = StatesOperator(op.states[sl], op.table, op.cov[sl], op.groups, sparse=False)
            xt = sub.dense()  # (nb, p) in the compute dtype
            self.gram += (xt.T @ xt).double()
            self.xt1 += xt.sum(0).double()
            self.xty += (xt.T @ y[sl]).double()
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

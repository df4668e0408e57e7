"""Interaction statistics of locus pairs from weighted genotype-cell sums (the general route).

Axis legend: n samples, l loci, a / b loci of the left / right block, m weight columns,
k = 9 genotype cells (3 * g_a + g_b), c covariates.

Two tests per pair (a, b) of biallelic loci with ALT dosages g in {0, 1, 2}:

* ``product``: y ~ 1 + g_a + g_b + g_a g_b (+ covariates). BETA_INT is the coefficient of
  g_a g_b, SE = sqrt(s^2 [(X'X)^-1]_int) with s^2 = RSS / (n - rank), STAT = (BETA_INT / SE)^2
  and P its chi-square (1 df) tail: exactly PLINK 1.9 ``--epistasis`` for a quantitative trait
  (checked against plink1.9 itself; PLINK has no covariates, then rank = 4).
* ``genotype``: y ~ cell(g_a, g_b) (9 cells) against y ~ class(g_a) + class(g_b), both with
  covariates; F = ((RSS_add - RSS_full) / df1) / (RSS_full / df2) with df1 = rank_full - rank_add
  (4 when no cell is empty) and df2 = n - rank_full.

Both tests are computed from per-pair *cell sums*: for a weight vector w (n,), the 3x3 table
sum_{i: g_a = r, g_b = s} w_i is one matrix product of one-hot indicator matrices
(OH_a' (OH_b * w)), and a missing call has an all-zero one-hot row, so each pair sees exactly
the samples called at both loci (as PLINK drops them). With weights 1, y, y^2, z, z y, z z'
the cell sums are sufficient statistics of both models. When a block pair has no missing call
the product test takes a faster route (``fast.py``).
"""

from __future__ import annotations

import torch

from genoattn.errors import GenoattnError
from genoattn.stats.teststats import GenotypeStats, ProductStats, TestStats

TESTS = ("product", "genotype")
_EPS = 1e-9  # relative eigenvalue / determinant threshold for rank decisions


def onehot(st: torch.Tensor) -> torch.Tensor:
    """shape (n, k, 3), float64: one-hot dosage of int8 states (n, k) (zero row if missing)."""
    return (st[..., None] == torch.arange(3, device=st.device)).to(torch.float64)


def block_cells(st_a: torch.Tensor, st_b: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """shape (na, nb, 9, m): weighted cell sums of every pair of columns of (n, na) x (n, nb)."""
    n, m = weights.shape
    oa, ob = onehot(st_a).reshape(n, -1), onehot(st_b).reshape(n, -1)  # (n, 3 na), (n, 3 nb)
    ow = (ob[:, :, None] * weights[:, None, :]).reshape(n, -1)  # (n, 3 nb m)
    r = (oa.T @ ow).reshape(oa.shape[1] // 3, 3, ob.shape[1] // 3, 3, m)
    return r.permute(0, 2, 1, 3, 4).reshape(r.shape[0], r.shape[2], 9, m)


def pair_cells(st_a: torch.Tensor, st_b: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """shape (k, 9, m): weighted cell sums of the aligned column pairs of (n, k) x (n, k)."""
    oa, ob = onehot(st_a), onehot(st_b)  # (n, k, 3)
    r = torch.einsum("nkr,nks,nm->krsm", oa, ob, weights)
    return r.reshape(st_a.shape[1], 9, -1)


def cell_stats(cells: torch.Tensor, test: str, c: int) -> TestStats:
    """The test's raw statistics from cell sums (..., 9, m)."""
    return product_from_cells(cells, c) if test == "product" else genotype_from_cells(cells, c)


def pinv_psd(g: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Pseudo-inverse and rank of a batch of symmetric PSD matrices (..., d, d)."""
    w, v = torch.linalg.eigh(g)
    keep = w > _EPS * w.amax(-1, keepdim=True).clamp_min(1e-300)
    inv = torch.where(keep, 1.0 / torch.where(keep, w, 1.0), 0.0)
    return (v * inv[..., None, :]) @ v.mT, keep.sum(-1)


def _unpack(cells: torch.Tensor, c: int):
    """Split cell sums (..., 9, m) into N, S, Y2 (..., 9), T, TY (..., 9, c), TT (..., 9, c, c)."""
    n_, s_, y2 = cells[..., 0], cells[..., 1], cells[..., 2]
    t_, ty = cells[..., 3 : 3 + c], cells[..., 3 + c : 3 + 2 * c]
    tt = cells.new_zeros(cells.shape[:-1] + (c, c))
    col = 3 + 2 * c
    for j in range(c):
        for k in range(j, c):
            tt[..., j, k] = cells[..., col]
            tt[..., k, j] = cells[..., col]
            col += 1
    return n_, s_, y2, t_, ty, tt


_DOS = torch.tensor([0.0, 1.0, 2.0], dtype=torch.float64)
_GA, _GB = _DOS.repeat_interleave(3), _DOS.repeat(3)  # dosages of cell k = 3 g_a + g_b
_XCELL = torch.stack([torch.ones(9, dtype=torch.float64), _GA, _GB, _GA * _GB], 1)  # (9, 4)


def product_from_cells(cells: torch.Tensor, c: int) -> ProductStats:
    """Product test from cell sums (..., 9, m): BETA_INT, SE, n (float64, shape (...))."""
    n_, s_, y2, t_, ty, tt = _unpack(cells, c)
    x = _XCELL.to(cells.device)
    d = 4 + c
    g = cells.new_zeros(cells.shape[:-2] + (d, d))
    g[..., :4, :4] = torch.einsum("...k,kp,kq->...pq", n_, x, x)
    g[..., :4, 4:] = torch.einsum("...kc,kp->...pc", t_, x)
    g[..., 4:, :4] = g[..., :4, 4:].mT
    g[..., 4:, 4:] = tt.sum(-3)
    rhs = torch.cat([torch.einsum("...k,kp->...p", s_, x), ty.sum(-2)], -1)
    inv, rank = pinv_psd(g)
    beta = (inv @ rhs[..., None])[..., 0]
    rss = y2.sum(-1) - (beta * rhs).sum(-1)
    n = n_.sum(-1)
    dof = n - rank
    ok = (rank == d) & (dof > 0)
    se = torch.sqrt(rss.clamp_min(0) / dof.clamp_min(1) * inv[..., 3, 3])
    nan = torch.full_like(n, float("nan"))
    return ProductStats(torch.where(ok, beta[..., 3], nan), torch.where(ok, se, nan), n)


def genotype_from_cells(cells: torch.Tensor, c: int) -> GenotypeStats:
    """4-df genotype-class interaction F test from cell sums (..., 9, m): F, df1, df2, n."""
    n_, s_, y2, t_, ty, tt = _unpack(cells, c)
    yy, n = y2.sum(-1), n_.sum(-1)
    inv_n = torch.where(n_ > 0, 1.0 / torch.where(n_ > 0, n_, 1.0), 0.0)
    # full model: cells (diagonal Gram) eliminated, then covariates on the Schur complement
    fit_full = (s_ * s_ * inv_n).sum(-1)
    rank_full = (n_ > 0).sum(-1)
    if c:
        v = tt.sum(-3) - torch.einsum("...kc,...kd,...k->...cd", t_, t_, inv_n)
        u = ty.sum(-2) - torch.einsum("...kc,...k->...c", t_, s_ * inv_n)
        pinv, r = pinv_psd(v)
        fit_full = fit_full + torch.einsum("...c,...cd,...d->...", u, pinv, u)
        rank_full = rank_full + r
    # additive model: classes of a eliminated, then [classes of b, covariates] (3 + c)
    sh = cells.shape[:-2]
    n3, s3 = n_.reshape(sh + (3, 3)), s_.reshape(sh + (3, 3))
    t3 = t_.reshape(sh + (3, 3, c))
    na, sa = n3.sum(-1), s3.sum(-1)  # (..., 3) per class of a
    inv_a = torch.where(na > 0, 1.0 / torch.where(na > 0, na, 1.0), 0.0)
    za = torch.cat([n3, t3.sum(-2)], -1)  # (..., 3 classes of a, 3 + c): Z' a_i
    zz = cells.new_zeros(sh + (3 + c, 3 + c))
    zz[..., :3, :3] = torch.diag_embed(n3.sum(-2))
    zz[..., :3, 3:] = t3.sum(-3)
    zz[..., 3:, :3] = zz[..., :3, 3:].mT
    zz[..., 3:, 3:] = tt.sum(-3)
    zy = torch.cat([s3.sum(-2), ty.sum(-2)], -1)
    v = zz - torch.einsum("...ip,...iq,...i->...pq", za, za, inv_a)
    u = zy - torch.einsum("...ip,...i->...p", za, sa * inv_a)
    pinv, r = pinv_psd(v)
    fit_add = (sa * sa * inv_a).sum(-1) + torch.einsum("...p,...pq,...q->...", u, pinv, u)
    rank_add = (na > 0).sum(-1) + r
    rss_full = yy - fit_full
    df1 = (rank_full - rank_add).to(torch.float64)
    df2 = n - rank_full
    ok = (df1 > 0) & (df2 > 0) & (rss_full > 0)
    f = ((yy - fit_add - rss_full) / df1.clamp_min(1)) / (rss_full / df2.clamp_min(1))
    f = torch.where(ok, f.clamp_min(0), torch.full_like(f, float("nan")))
    return GenotypeStats(f, df1, df2.to(torch.float64), n)


def check_test(test: str) -> str:
    test = getattr(test, "value", test)
    if test not in TESTS:
        raise GenoattnError(f"unknown interaction test {test!r}; expected one of {list(TESTS)}")
    return test


LOGISTIC = "logistic"  # the product test of a case/control trait (chosen by the scan, not a user)

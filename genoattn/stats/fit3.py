"""The two 3-way interaction tests of a locus triple, from its 27 genotype-class cell sums.

Axis legend: t triples, k = 27 cells (9 g_a + 3 g_b + g_c), m weight columns, c covariates.

* ``genotype`` (8 df, the pure 3-way part): y ~ cell(g_a, g_b, g_c) (27 cells) against the null
  model y ~ cell(g_a, g_b) + cell(g_a, g_c) + cell(g_b, g_c) (every pairwise genotype-class term,
  which contains every main effect and the intercept; 19 parameters when no cell is empty), both
  with covariates. F = ((RSS_0 - RSS_1) / df1) / (RSS_1 / df2), df1 = rank_1 - rank_0 (8 when no
  cell is empty), df2 = n - rank_1.
* ``product`` (1 df): y ~ 1 + g_a + g_b + g_c + g_a g_b + g_a g_c + g_b g_c + g_a g_b g_c
  (+ covariates); BETA_INT is the coefficient of g_a g_b g_c, SE = sqrt(s^2 [(X'X)^-1]_int),
  s^2 = RSS / (n - rank), STAT = (BETA_INT / SE)^2 (chi-square 1 df), as the pair scan.

Fast route (:func:`genotype_fast`, :func:`product_fast`; cell sums of weights [1, y] or
[1, y, y^2]): y is residualised on the covariates beforehand, genotypes are not. It is exact
without covariates and a screen otherwise (exact when genotypes are uncorrelated with the
covariates). The 8-df numerator is the general-linear-hypothesis form in the cell-means model,
RSS_0 - RSS_1 = v' (C' D^-1 C)^-1 v with v = C' mu (mu: cell means, D = diag(cell counts)) and C
the 27 x 8 orthonormal pure 3-way contrasts (Kronecker products of the two per-locus contrasts
orthogonal to the constant), so each triple costs an 8 x 8 Cholesky solve, not a 19-parameter fit.
Empty cells make their contrasts untestable: the test is restricted to the subspace
{u : (C u)_e = 0 for every empty cell e}, whose dimension is rank_1 - rank_0.

Exact route (:func:`exact_stats`; weights [1, y, y^2, z, z y, z_j z_k] as the pair scan): both
models with covariates, solved per triple by eigen-decomposition (pseudo-inverse and rank).
"""

from __future__ import annotations

import itertools

import torch

_EPS = 1e-9  # relative eigenvalue / pivot threshold for rank decisions (as the pair scan)

_DOS = torch.tensor(list(itertools.product([0.0, 1.0, 2.0], repeat=3)), dtype=torch.float64)
_GA, _GB, _GC = _DOS.unbind(1)  # dosages of cell k = 9 g_a + 3 g_b + g_c
#: (27, 8) product-model design of each cell: 1, mains, pairwise products, 3-way product.
X_PRODUCT = torch.stack(
    [torch.ones(27, dtype=torch.float64), _GA, _GB, _GC, _GA * _GB, _GA * _GC, _GB * _GC,
     _GA * _GB * _GC], 1
)  # fmt: skip
_CON = torch.tensor([[-1.0, 0.0, 1.0], [1.0, -2.0, 1.0]], dtype=torch.float64)
_CON = _CON / _CON.norm(dim=1, keepdim=True)  # (2, 3) orthonormal, orthogonal to the constant
#: (27, 8) orthonormal pure 3-way contrasts.
C_PURE = torch.einsum("pi,qj,rk->ijkpqr", _CON, _CON, _CON).reshape(27, 8)


def _pair_cells() -> torch.Tensor:
    """(27, 27) null-model design: indicators of the (a, b), (a, c) and (b, c) cells."""
    ga, gb, gc = (_DOS[:, j].long() for j in range(3))
    eye = torch.eye(9, dtype=torch.float64)
    return torch.cat([eye[3 * ga + gb], eye[3 * ga + gc], eye[3 * gb + gc]], 1)


X_PAIRS = _pair_cells()


def _outer(x: torch.Tensor) -> torch.Tensor:
    """(k, p) -> (k, p * p): row-wise outer products, so a weighted Gram is one matmul."""
    return (x[:, :, None] * x[:, None, :]).reshape(x.shape[0], -1)


def _chol_solve(g: torch.Tensor, rhs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Solve g x = rhs for a batch of SPD (t, p, p); ok is False where g is (near) singular."""
    low, info = torch.linalg.cholesky_ex(g)
    piv = torch.diagonal(low, dim1=-2, dim2=-1) ** 2
    ok = (info == 0) & (piv > _EPS * torch.diagonal(g, dim1=-2, dim2=-1).clamp_min(1e-300)).all(-1)
    eye = torch.eye(g.shape[-1], dtype=g.dtype, device=g.device)
    low = torch.where(ok[:, None, None], low, eye)
    return torch.cholesky_solve(rhs, low), ok


def genotype_fast(
    cnt: torch.Tensor, s: torch.Tensor, yy: torch.Tensor, cov_rank: int = 0
) -> dict[str, torch.Tensor]:
    """8-df test from cell counts cnt (t, 27), sums of y s (t, 27) and sum of y^2 yy (t,).

    ``cov_rank``: covariate columns already projected out of y (they cost df2 degrees).
    """
    cpure = C_PURE.to(cnt.device)
    cc = _outer(cpure)  # (27, 64)
    t = cnt.shape[0]
    inv_n = torch.where(cnt > 0, 1.0 / cnt.clamp_min(1.0), 0.0)
    mu = s * inv_n
    v = mu @ cpure  # (t, 8)
    m = (inv_n @ cc).view(t, 8, 8)
    empty = cnt <= 0
    some = empty.any(1)
    ss = torch.zeros(t, dtype=cnt.dtype, device=cnt.device)
    df1 = torch.full_like(ss, 8.0)
    ok = torch.ones(t, dtype=torch.bool, device=cnt.device)
    full = ~some
    if full.any():
        x, okf = _chol_solve(m[full], v[full, :, None])
        ss[full] = (v[full] * x[..., 0]).sum(-1)
        ok[full] = okf
    if some.any():
        # restrict to {u : C[e] u = 0 for empty e}: eigenvectors of sum_e c_e c_e' with eigenvalue 0
        e = (empty[some].to(cnt.dtype) @ cc).view(-1, 8, 8)
        w, u = torch.linalg.eigh(e)
        keep = w < 1e-8
        mt = u.mT @ m[some] @ u
        kk = keep[:, :, None] & keep[:, None, :]
        eye = torch.eye(8, dtype=cnt.dtype, device=cnt.device)
        mt = torch.where(kk, mt, eye.expand_as(mt))
        vt = torch.where(keep, (v[some, None, :] @ u)[:, 0], 0.0)
        x, oke = _chol_solve(mt, vt[..., None])
        ss[some] = (vt * x[..., 0]).sum(-1)
        df1[some] = keep.sum(-1).to(cnt.dtype)
        ok[some] = oke
    n = cnt.sum(-1)
    rank1 = (~empty).sum(-1).to(cnt.dtype)
    rss1 = yy - (s * mu).sum(-1)
    df2 = n - rank1 - cov_rank
    ok = ok & (df1 > 0) & (df2 > 0) & (rss1 > 0)
    f = (ss / df1.clamp_min(1)) / (rss1 / df2.clamp_min(1))
    f = torch.where(ok, f.clamp_min(0), torch.full_like(f, float("nan")))
    return {"F": f, "df1": df1, "df2": df2, "n": n}


def product_fast(
    cnt: torch.Tensor, s: torch.Tensor, yy: torch.Tensor, cov_rank: int = 0
) -> dict[str, torch.Tensor]:
    """1-df product test from cell counts (t, 27), sums of y (t, 27), sum of y^2 (t,)."""
    x = X_PRODUCT.to(cnt.device)
    t = cnt.shape[0]
    g = (cnt @ _outer(x)).view(t, 8, 8)
    r = s @ x  # (t, 8)
    e7 = torch.zeros_like(r)
    e7[:, 7] = 1.0
    sol, ok = _chol_solve(g, torch.stack([r, e7], -1))
    beta = sol[..., 0]
    n = cnt.sum(-1)
    dof = n - 8 - cov_rank
    rss = yy - (beta * r).sum(-1)
    ok = ok & (dof > 0)
    se = torch.sqrt(rss.clamp_min(0) / dof.clamp_min(1) * sol[:, 7, 1].clamp_min(0))
    nan = torch.full_like(n, float("nan"))
    return {"beta": torch.where(ok, beta[:, 7], nan), "se": torch.where(ok, se, nan), "n": n}


def _unpack(cells: torch.Tensor, c: int):
    """Cell sums (t, k, m) of [1, y, y^2, z, z y, z_j z_k (j <= k)] -> N, S, Y2, T, TY, TT."""
    tt = cells.new_zeros(cells.shape[:-1] + (c, c))
    col = 3 + 2 * c
    for j in range(c):
        for k in range(j, c):
            tt[..., j, k] = tt[..., k, j] = cells[..., col]
            col += 1
    return (cells[..., 0], cells[..., 1], cells[..., 2], cells[..., 3 : 3 + c],
            cells[..., 3 + c : 3 + 2 * c], tt)  # fmt: skip


def _fit(cnt, s, t_, ty, tt, x: torch.Tensor):
    """Least squares of y on [cell design x (27, p), covariates] from cell sums.

    Returns the fitted sum of squares, the rank, the pseudo-inverse Gram and the coefficients.
    """
    p, c = x.shape[1], t_.shape[-1]
    g = cnt.new_zeros(cnt.shape[:-1] + (p + c, p + c))
    g[..., :p, :p] = torch.einsum("tk,kp,kq->tpq", cnt, x, x)
    g[..., :p, p:] = torch.einsum("tkc,kp->tpc", t_, x)
    g[..., p:, :p] = g[..., :p, p:].mT
    g[..., p:, p:] = tt.sum(-3)
    rhs = torch.cat([s @ x, ty.sum(-2)], -1)
    w, v = torch.linalg.eigh(g)
    keep = w > _EPS * w.amax(-1, keepdim=True).clamp_min(1e-300)
    inv = (v * torch.where(keep, 1.0 / torch.where(keep, w, 1.0), 0.0)[..., None, :]) @ v.mT
    beta = (inv @ rhs[..., None])[..., 0]
    return (beta * rhs).sum(-1), keep.sum(-1).to(cnt.dtype), inv, beta


def exact_stats(cells: torch.Tensor, c: int, test: str) -> dict[str, torch.Tensor]:
    """Either test with covariates in both models, from full-weight cell sums (t, 27, m)."""
    cnt, s, y2, t_, ty, tt = _unpack(cells, c)
    yy, n = y2.sum(-1), cnt.sum(-1)
    dev = cells.device
    if test == "product":
        fit, rank, inv, beta = _fit(cnt, s, t_, ty, tt, X_PRODUCT.to(dev))
        dof = n - rank
        ok = (rank == 8 + c) & (dof > 0)
        se = torch.sqrt((yy - fit).clamp_min(0) / dof.clamp_min(1) * inv[:, 7, 7].clamp_min(0))
        nan = torch.full_like(n, float("nan"))
        return {"beta": torch.where(ok, beta[:, 7], nan), "se": torch.where(ok, se, nan), "n": n}
    eye = torch.eye(27, dtype=cells.dtype, device=dev)
    fit1, rank1, _, _ = _fit(cnt, s, t_, ty, tt, eye)
    fit0, rank0, _, _ = _fit(cnt, s, t_, ty, tt, X_PAIRS.to(dev))
    rss1 = yy - fit1
    df1, df2 = rank1 - rank0, n - rank1
    ok = (df1 > 0) & (df2 > 0) & (rss1 > 0)
    f = ((fit1 - fit0).clamp_min(0) / df1.clamp_min(1)) / (rss1 / df2.clamp_min(1))
    f = torch.where(ok, f, torch.full_like(f, float("nan")))
    return {"F": f, "df1": df1, "df2": df2, "n": n}

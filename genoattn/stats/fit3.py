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
orthogonal to the constant), so each triple costs an 8 x 8 Cholesky factorisation, not a
19-parameter fit.
Empty cells make their contrasts untestable: the test is restricted to the subspace
{u : (C u)_e = 0 for every empty cell e}, whose dimension is rank_1 - rank_0. The 8 x 8 factors
come from a Cholesky vectorised over triples (:func:`cholesky_batched`).

Exact route (:func:`exact_stats`; weights [1, y, y^2, z, z y, z_j z_k] as the pair scan): both
models with covariates, solved per triple by eigen-decomposition (pseudo-inverse and rank).
"""

from __future__ import annotations

import itertools

import torch

from genoattn.stats.teststats import GenotypeStats, ProductStats, TestStats

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


def cholesky_batched(
    g: torch.Tensor, rtol: float = _EPS, ref: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Cholesky factors of a batch of small PSD matrices (t, p, p), vectorised over t.

    A pivot below ``rtol`` times its diagonal entry (or ``ref`` (t, p), if given) marks a
    dependent column: it is zeroed (so the factor of a singular PSD matrix is still usable) and
    counted out of the rank. The loop runs
    over the p columns, each step a few (t, p) operations: far faster than t small LAPACK calls.
    Returns L (t, p, p) lower triangular and rank (t,).
    """
    t, p, _ = g.shape
    low = torch.zeros_like(g)
    rank = torch.zeros(t, dtype=g.dtype, device=g.device)
    diag = torch.diagonal(g, dim1=-2, dim2=-1)
    ref = diag if ref is None else ref
    for j in range(p):
        row = low[:, j, :j]  # (t, j)
        d = diag[:, j] - (row * row).sum(-1)
        ok = d > rtol * ref[:, j].clamp_min(1e-300)
        root = torch.sqrt(torch.where(ok, d, 1.0))
        col = (g[:, j:, j] - (low[:, j:, :j] @ row[:, :, None])[..., 0]) / root[:, None]
        low[:, j:, j] = torch.where(ok[:, None], col, 0.0)
        rank = rank + ok.to(g.dtype)
    return low, rank


def forward_solve(low: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """x (t, p) with L x = b for lower-triangular L (t, p, p); zero where a pivot is zero."""
    x = torch.zeros_like(b)
    for j in range(b.shape[1]):
        piv = low[:, j, j]
        num = b[:, j] - (low[:, j, :j] * x[:, :j]).sum(-1)
        x[:, j] = torch.where(piv > 0, num / torch.where(piv > 0, piv, 1.0), 0.0)
    return x


def _range_basis(e: torch.Tensor) -> torch.Tensor:
    """Orthonormal basis (t, p, p) of the range of PSD matrices e (t, p, p) (zero columns pad).

    Gram-Schmidt over the columns of e's Cholesky factor, vectorised over t.
    """
    low, _ = cholesky_batched(e, 1e-9)
    q = torch.zeros_like(e)
    for j in range(e.shape[-1]):
        col = low[:, :, j]
        col = col - (q @ (q.mT @ col[..., None]))[..., 0]
        norm = col.norm(dim=-1, keepdim=True)
        q[:, :, j] = torch.where(norm > 1e-6, col / norm.clamp_min(1e-300), 0.0)
    return q


def quadratic_form_inv(m: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """v' m^-1 v (t,) and rank (t,) for PSD m (t, p, p), v (t, p).

    Batched LAPACK Cholesky (``cholesky_ex``, 3-4x faster than the column loop on CPU) for the
    positive definite majority; matrices it rejects take :func:`cholesky_batched`, which zeroes
    dependent pivots (rank < p).
    """
    low, info = torch.linalg.cholesky_ex(m)
    rank = torch.full_like(v[:, 0], float(m.shape[-1]))
    bad = info != 0
    if bool(bad.any()):
        low[bad], rank[bad] = cholesky_batched(m[bad])
        x = forward_solve(low, v)
    else:
        x = torch.linalg.solve_triangular(low, v[..., None], upper=False)[..., 0]
    return (x * x).sum(-1), rank


def genotype_fast(
    cnt: torch.Tensor, s: torch.Tensor, yy: torch.Tensor, cov_rank: int = 0
) -> GenotypeStats:
    """8-df test from cell counts cnt (t, 27), sums of y s (t, 27) and sum of y^2 yy (t,).

    ``cov_rank``: covariate columns already projected out of y (they cost df2 degrees).
    Empty cells: with Q an orthonormal basis of span{c_e : e empty} and P = I - Q Q', the form
    restricted to {u : C[e] u = 0} is (P v)' (P M P + Q Q')^-1 (P v); df1 = 8 - rank(Q).
    """
    cpure = C_PURE.to(cnt.device, cnt.dtype)
    cc = _outer(cpure)  # (27, 64)
    t = cnt.shape[0]
    inv_n = torch.where(cnt > 0, 1.0 / cnt.clamp_min(1.0), 0.0)
    mu = s * inv_n
    v = mu @ cpure  # (t, 8)
    m = (inv_n @ cc).view(t, 8, 8)
    empty = (cnt <= 0).to(cnt.dtype)
    rank_e = torch.zeros_like(yy)
    some = empty.any(-1)
    if bool(some.any()):  # only triples with an empty cell need the restriction
        q = _range_basis((empty[some] @ cc).view(-1, 8, 8))  # zero columns beyond the rank
        rank_e[some] = (q.abs().sum(-2) > 0).sum(-1).to(cnt.dtype)
        proj = torch.eye(8, dtype=cnt.dtype, device=cnt.device) - q @ q.mT
        v[some] = (proj @ v[some, :, None])[..., 0]
        m[some] = proj @ m[some] @ proj + q @ q.mT
    ss, rank_m = quadratic_form_inv(m, v)
    df1 = 8.0 - rank_e
    n = cnt.sum(-1)
    rank1 = 27.0 - empty.sum(-1)
    rss1 = yy - (s * mu).sum(-1)
    df2 = n - rank1 - cov_rank
    ok = (rank_m == 8) & (df1 > 0) & (df2 > 0) & (rss1 > 0)
    f = (ss / df1.clamp_min(1)) / (rss1 / df2.clamp_min(1))
    f = torch.where(ok, f.clamp_min(0), torch.full_like(f, float("nan")))
    return GenotypeStats(f, df1, df2, n)


def product_fast(
    cnt: torch.Tensor, s: torch.Tensor, yy: torch.Tensor, cov_rank: int = 0
) -> ProductStats:
    """1-df product test from cell counts (t, 27), sums of y (t, 27), sum of y^2 (t,).

    With G = L L' (the 3-way product is the last column), beta_int = (L^-1 r)_7 / L_77,
    [G^-1]_77 = 1 / L_77^2 and RSS = yy - ||L^-1 r||^2: one forward substitution per triple.
    """
    x = X_PRODUCT.to(cnt.device)
    t = cnt.shape[0]
    g = (cnt @ _outer(x)).view(t, 8, 8)
    low, rank = cholesky_batched(g)
    f = forward_solve(low, s @ x)  # (t, 8)
    n = cnt.sum(-1)
    dof = n - 8 - cov_rank
    ok = (rank == 8) & (dof > 0)
    l77 = torch.where(ok, low[:, 7, 7], 1.0)
    beta = f[:, 7] / l77
    rss = yy - (f * f).sum(-1)
    se = torch.sqrt(rss.clamp_min(0) / dof.clamp_min(1)) / l77
    nan = torch.full_like(n, float("nan"))
    return ProductStats(torch.where(ok, beta, nan), torch.where(ok, se, nan), n)


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


def exact_stats(cells: torch.Tensor, c: int, test: str) -> TestStats:
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
        return ProductStats(torch.where(ok, beta[:, 7], nan), torch.where(ok, se, nan), n)
    eye = torch.eye(27, dtype=cells.dtype, device=dev)
    fit1, rank1, _, _ = _fit(cnt, s, t_, ty, tt, eye)
    fit0, rank0, _, _ = _fit(cnt, s, t_, ty, tt, X_PAIRS.to(dev))
    rss1 = yy - fit1
    df1, df2 = rank1 - rank0, n - rank1
    ok = (df1 > 0) & (df2 > 0) & (rss1 > 0)
    f = ((fit1 - fit0).clamp_min(0) / df1.clamp_min(1)) / (rss1 / df2.clamp_min(1))
    f = torch.where(ok, f, torch.full_like(f, float("nan")))
    return GenotypeStats(f, df1, df2, n)

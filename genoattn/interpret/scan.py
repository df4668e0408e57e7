"""Exhaustive pairwise interaction scan written as matrix products, blocked over loci.

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
the product test takes a faster route: covariates and intercept are projected out first
(Frisch-Waugh-Lovell) and each pair is a closed-form 3x3 solve.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl
import torch

from genoattn.contract import MISSING, Dataset
from genoattn.errors import GenoattnError

TESTS = ("product", "genotype")
_EPS = 1e-9  # relative eigenvalue / determinant threshold for rank decisions


@dataclass(frozen=True)
class Prepared:
    """Scan inputs on one device, restricted to rows and biallelic loci.

    Attributes:
        loci: shape (l,), int64, indices of the scanned loci in the cohort.
        states: shape (n, l), int8 dosage or MISSING.
        h: shape (n, l), float64, centred dosage (0 where missing).
        g2: shape (n, l, 2), int8, dosage g and g^2 (0 where missing).
        moments: shape (4, l), float64, per locus: sum g, sum g^2, sum g y, mean g (called).
        missing: shape (l,), bool, locus has a missing call.
        weights: shape (n, m), float64, [1, y, y^2, z, z*y, z_j z_k (j <= k)].
        q: shape (n, r), float64, orthonormal basis of [1, covariates].
        y_res: shape (n,), float64, y with [1, covariates] projected out.
        c: number of covariate columns.
    """

    loci: np.ndarray
    states: np.ndarray
    h: torch.Tensor
    g2: torch.Tensor
    moments: torch.Tensor
    missing: np.ndarray
    weights: torch.Tensor
    q: torch.Tensor
    y_res: torch.Tensor
    c: int


def prepare(
    dataset: Dataset, rows=None, device: str | torch.device = "cpu", log: Callable = print
) -> Prepared:
    """Select rows and biallelic loci, standardise covariates and build the scan's tensors."""
    cohort = dataset.cohort
    rows = np.arange(cohort.n_samples) if rows is None else np.asarray(rows)
    bial = cohort.is_biallelic()
    if not bial.all():
        log(f"scan: skipping {int((~bial).sum())} loci that are not biallelic genotypes")
    loci = np.flatnonzero(bial)
    st = cohort.states if len(rows) == cohort.n_samples and bial.all() else None
    st = np.ascontiguousarray(cohort.states[np.ix_(rows, loci)] if st is None else st[rows])
    y = dataset.y[rows].astype(np.float64)
    y = y - y.mean() if len(y) else y
    z = dataset.covariates[rows].astype(np.float64)
    if z.shape[1]:
        sd = z.std(axis=0)
        z = (z - z.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    n, c = z.shape
    cols = [np.ones(n), y, y * y, *z.T, *(z * y[:, None]).T]
    cols += [z[:, j] * z[:, k] for j in range(c) for k in range(j, c)]
    u, s, _ = np.linalg.svd(np.column_stack([np.ones(n), z]), full_matrices=False)
    q = u[:, s > _EPS * s.max()] if n else u
    y_res = y - q @ (q.T @ y)
    called = st != MISSING
    g = np.where(called, st, np.int8(0))  # (n, l) int8
    g2 = np.empty(g.shape + (2,), np.int8)
    g2[..., 0], g2[..., 1] = g, g * g
    sums = g2.sum(0, dtype=np.int64).T.astype(np.float64)  # (2, l): sum g, sum g^2
    mean = sums[0] / np.maximum(called.sum(0), 1)
    h = g - mean
    h[~called] = 0.0

    def t(a):
        return torch.as_tensor(np.ascontiguousarray(a), dtype=torch.float64, device=device)

    return Prepared(
        loci=loci,
        states=st,
        h=t(h),
        g2=torch.as_tensor(g2, device=device),
        moments=t(np.vstack([sums, h.T @ y, mean])),  # sum h y = sum g y as sum y = 0
        missing=~called.all(0),
        weights=t(np.column_stack(cols)),
        q=t(q),
        y_res=t(y_res),
        c=c,
    )


def onehot(p: Prepared, cols) -> torch.Tensor:
    """shape (n, k, 3), float64: one-hot dosage of locus columns ``cols`` (zero row if missing)."""
    st = torch.as_tensor(p.states[:, cols], device=p.weights.device)
    return (st[..., None] == torch.arange(3, device=st.device)).to(torch.float64)


def block_cells(p: Prepared, a: slice, b: slice) -> torch.Tensor:
    """shape (na, nb, 9, m): weighted cell sums of every pair (a_i, b_j) of two locus blocks."""
    n = p.weights.shape[0]
    oa, ob = onehot(p, a).reshape(n, -1), onehot(p, b).reshape(n, -1)  # (n, 3 na), (n, 3 nb)
    m = p.weights.shape[1]
    ow = (ob[:, :, None] * p.weights[:, None, :]).reshape(n, -1)  # (n, 3 nb m)
    r = (oa.T @ ow).reshape(oa.shape[1] // 3, 3, ob.shape[1] // 3, 3, m)
    return r.permute(0, 2, 1, 3, 4).reshape(r.shape[0], r.shape[2], 9, m)


def pair_cells(p: Prepared, ia: np.ndarray, ib: np.ndarray) -> torch.Tensor:
    """shape (k, 9, m): weighted cell sums of the aligned pairs (ia[t], ib[t]) (scan indices)."""
    oa, ob = onehot(p, ia), onehot(p, ib)  # (n, k, 3)
    r = torch.einsum("nkr,nks,nm->krsm", oa, ob, p.weights)
    return r.reshape(len(ia), 9, -1)


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


def product_from_cells(cells: torch.Tensor, c: int) -> dict[str, torch.Tensor]:
    """Product test from cell sums (..., 9, m): BETA_INT, SE, n, rank (float64, shape (...))."""
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
    return {
        "beta": torch.where(ok, beta[..., 3], nan),
        "se": torch.where(ok, se, nan),
        "n": n,
        "dof": dof.to(torch.float64),
    }


def product_fast_block(p: Prepared, a: slice, b: slice) -> dict[str, torch.Tensor]:
    """Product test for all pairs of two blocks without missing calls (closed-form 3x3).

    Covariates and intercept are projected out first (FWL), leaving a 3x3 system in the
    regressors g_a, g_b, g_a g_b per pair. Without covariates the Gram entries come from raw
    moments of the integer dosages, computed exactly by an integer matrix product, so the bulk
    of the work runs at int8 speed without losing any precision.
    """
    gram = _gram_int(p, a, b) if p.c == 0 else _gram_fwl(p, a, b)
    a11, a12, a13, a22, a23, a33, r1, r2, r3, yy = gram
    # adjugate of the symmetric 3x3 [[a11 a12 a13] [a12 a22 a23] [a13 a23 a33]]
    c11 = a22 * a33 - a23 * a23
    c12 = a13 * a23 - a12 * a33
    c13 = a12 * a23 - a13 * a22
    c22 = a11 * a33 - a13 * a13
    c23 = a12 * a13 - a11 * a23
    c33 = a11 * a22 - a12 * a12
    det = a11 * c11 + a12 * c12 + a13 * c13
    ok = det > _EPS * (a11 * a22 * a33).clamp_min(1e-300)
    det = torch.where(ok, det, 1.0)
    b1 = (c11 * r1 + c12 * r2 + c13 * r3) / det
    b2 = (c12 * r1 + c22 * r2 + c23 * r3) / det
    b3 = (c13 * r1 + c23 * r2 + c33 * r3) / det
    rss = yy - b1 * r1 - b2 * r2 - b3 * r3
    n = float(p.h.shape[0])
    dof = n - p.q.shape[1] - 3
    se = torch.sqrt(rss.clamp_min(0) / max(dof, 1) * c33 / det)
    nan = torch.full_like(b3, float("nan"))
    ok = ok & (dof > 0)
    full = torch.full_like(b3, n)
    return {
        "beta": torch.where(ok, b3, nan),
        "se": torch.where(ok, se, nan),
        "n": full,
        "dof": full - p.q.shape[1] - 3,
    }


def _gram_fwl(p: Prepared, a: slice, b: slice):
    """Gram entries (na, nb) of [M g_a, M g_b, M g_a g_b] and their products with M y."""
    ha, hb = p.h[:, a], p.h[:, b]  # (n, na), (n, nb)
    ta, tb = ha - p.q @ (p.q.T @ ha), hb - p.q @ (p.q.T @ hb)  # covariates projected out
    yr = p.y_res
    a12 = ta.T @ tb
    a13 = (ta * ha).T @ hb  # <M h_a, h_a h_b> = <M h_a, M(h_a h_b)>
    a23 = ha.T @ (tb * hb)
    a33 = (ha * ha).T @ (hb * hb)
    for j in range(p.q.shape[1]):  # ||M(h_a h_b)||^2 = ||h_a h_b||^2 - ||Q'(h_a h_b)||^2
        a33 = a33 - ((p.q[:, j : j + 1] * ha).T @ hb) ** 2
    r3 = (ha * yr[:, None]).T @ hb
    a11, a22 = (ta * ta).sum(0)[:, None], (tb * tb).sum(0)[None, :]
    r1, r2 = (ta.T @ yr)[:, None], (tb.T @ yr)[None, :]
    return a11, a12, a13, a22, a23, a33, r1, r2, r3, (yr * yr).sum()


def _gram_int(p: Prepared, a: slice, b: slice):
    """As :func:`_gram_fwl` for intercept only, from raw moments of the integer dosages."""
    n = p.g2.shape[0]
    ga, gb = p.g2[:, a].reshape(n, -1), p.g2[:, b].reshape(n, -1)  # [g, g^2] interleaved
    na, nb = ga.shape[1] // 2, gb.shape[1] // 2
    m = _int_matmul(ga.T.contiguous(), gb).double().view(na, 2, nb, 2)  # exact integer sums
    s_ab, s_abb, s_aab, s_aabb = m[:, 0, :, 0], m[:, 0, :, 1], m[:, 1, :, 0], m[:, 1, :, 1]
    y = p.y_res  # centred: sum(y) = 0
    sa, qa, ya, ma = (v[:, None] for v in p.moments[:, a])
    sb, qb, yb, mb = (v[None, :] for v in p.moments[:, b])
    # sum g_a g_b y = sum h_a h_b y + m_b sum g_a y + m_a sum g_b y  (h = g - mean, sum y = 0)
    r3 = (p.h[:, a] * y[:, None]).T @ p.h[:, b] + mb * ya + ma * yb
    a11, a22 = qa - sa * sa / n, qb - sb * sb / n
    a12 = s_ab - sa * sb / n
    a13 = s_aab - sa * s_ab / n
    a23 = s_abb - sb * s_ab / n
    a33 = s_aabb - s_ab * s_ab / n
    return a11, a12, a13, a22, a23, a33, ya, yb, r3, (y * y).sum()


def _int_matmul(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Exact product of small non-negative int8 matrices (k, n) @ (n, m) -> int32 or float32.

    Uses the int8 GEMM (int32 accumulation, several times faster than float32 on CPUs with
    VNNI) when this build offers it for these shapes; otherwise float32, exact while the sums
    stay below 2^24 (n < 10^6 samples for dosages <= 4), else float64.
    """
    if hasattr(torch, "_int_mm"):
        try:
            return torch._int_mm(x, y)
        except RuntimeError:
            pass
    dt = torch.float32 if 16 * x.shape[1] < 2**24 else torch.float64
    return x.to(dt) @ y.to(dt)


def genotype_from_cells(cells: torch.Tensor, c: int) -> dict[str, torch.Tensor]:
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
    return {"F": f, "df1": df1, "df2": df2.to(torch.float64), "n": n}


def finish(test: str, stats: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Add PLINK-style columns and P-values to raw statistics (numpy float64 arrays)."""
    from scipy import special

    if test == "product":
        stat = (stats["beta"] / stats["se"]) ** 2
        return {
            "n": stats["n"],
            "BETA_INT": stats["beta"],
            "SE": stats["se"],
            "STAT": stat,
            "P": special.erfc(np.sqrt(stat / 2)),  # chi-square 1 df tail
        }
    f = stats["F"]
    with np.errstate(invalid="ignore"):
        p = special.fdtrc(stats["df1"], stats["df2"], f)
    return {"n": stats["n"], "F": f, "DF1": stats["df1"], "DF2": stats["df2"], "P": p}


def check_test(test: str) -> str:
    test = getattr(test, "value", test)
    if test not in TESTS:
        raise GenoattnError(f"unknown interaction test {test!r}; expected one of {list(TESTS)}")
    return test


def _block_stats(p: Prepared, test: str, a: slice, b: slice) -> dict[str, torch.Tensor]:
    if test == "product" and not (p.missing[a].any() or p.missing[b].any()):
        return product_fast_block(p, a, b)
    return _cell_stats(block_cells(p, a, b), test, p.c)


def _cell_stats(cells: torch.Tensor, test: str, c: int) -> dict[str, torch.Tensor]:
    return product_from_cells(cells, c) if test == "product" else genotype_from_cells(cells, c)


_EMPTY = {k: np.zeros(0) for k in ("beta", "se", "n", "F", "df1", "df2")}


def _frame(cols: dict[str, np.ndarray]) -> pl.DataFrame:
    out = pl.DataFrame(cols)
    return out.with_columns(pl.col("idx_a", "idx_b", "n").cast(pl.Int64))


def _rank_order(cols: dict[str, np.ndarray], test: str) -> np.ndarray:
    """Row order: P ascending, ties (P underflowing to 0) by statistic descending."""
    stat = cols["STAT"] if test == "product" else cols["F"]
    return np.lexsort((-stat, cols["P"]))


def scan_pairs(
    dataset: Dataset,
    pairs: np.ndarray,
    test: str = "product",
    rows=None,
    device: str | torch.device = "cpu",
    log: Callable = print,
) -> pl.DataFrame:
    """Scan statistics of the given pairs only, in the given order.

    Args:
        pairs: shape (k, 2), int, cohort locus indices (biallelic).
        rows: sample indices to use (all by default), e.g. held-out samples.

    Returns:
        polars frame, one row per pair: idx_a, idx_b, n and the test's columns (see :func:`scan`).
    """
    test = check_test(test)
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    p = prepare(dataset, rows, device, log=lambda *_: None)
    where = np.full(dataset.cohort.n_loci, -1)
    where[p.loci] = np.arange(len(p.loci))
    sa, sb = where[pairs[:, 0]], where[pairs[:, 1]]
    if (sa < 0).any() or (sb < 0).any():
        raise GenoattnError("scan: pairs must name biallelic genotype loci")
    parts = []
    for s in range(0, len(pairs), 4096):
        st = _cell_stats(pair_cells(p, sa[s : s + 4096], sb[s : s + 4096]), test, p.c)
        parts.append({k: v.cpu().numpy() for k, v in st.items()})
    raw = {k: np.concatenate([d[k] for d in parts]) for k in parts[0]} if parts else _EMPTY
    return _frame({"idx_a": pairs[:, 0], "idx_b": pairs[:, 1], **finish(test, raw)})


def scan(
    dataset: Dataset,
    test: str = "product",
    top: int | None = 1000,
    p_threshold: float | None = None,
    rows=None,
    min_distance_bp: int | None = None,
    block: int | None = None,
    device: str | torch.device | None = None,
    progress: bool = False,
    log: Callable = print,
) -> pl.DataFrame:
    """Test every pair of biallelic loci; keep the best ``top`` (and/or those with P <= threshold).

    All pairs are computed block by block (memory O(n l + block^2)); only the running best rows
    are kept. Pairs on the same chromosome closer than ``min_distance_bp`` are skipped.

    Returns:
        polars frame sorted by P: idx_a < idx_b (cohort locus indices), n (samples used), then for
        ``product`` BETA_INT, SE, STAT, P (PLINK 1.9 --epistasis) and for ``genotype`` F, DF1,
        DF2, P.
    """
    test = check_test(test)
    if top is not None and top < 1:
        raise GenoattnError(f"scan: top must be at least 1, got {top}")
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    p = prepare(dataset, rows, device, log)
    n_l = len(p.loci)
    m = p.weights.shape[1]
    if block:
        ba = bb = block
    elif test == "product" and not p.missing.any():
        ba, bb = 128, 2048  # wide panels: efficient GEMMs, little waste on the diagonal
    else:
        ba = bb = max(8, int(256 * (3 / m) ** 0.5))
    loci = dataset.cohort.loci[p.loci.tolist()] if n_l else dataset.cohort.loci.clear()
    chrom = loci["chrom"].to_numpy().astype(str)
    pos = loci["pos"].to_numpy()
    jobs = [(i, j) for i in range(0, n_l, ba) for j in range(i, n_l, bb)]
    if progress:
        from tqdm import tqdm

        jobs = tqdm(jobs, desc=f"scan {test}", unit="block")
    best: dict[str, np.ndarray] | None = None
    for i, j in jobs:
        a, b = slice(i, min(i + ba, n_l)), slice(j, min(j + bb, n_l))
        raw = {k: v.cpu().numpy() for k, v in _block_stats(p, test, a, b).items()}
        ia, ib = np.meshgrid(np.arange(a.start, a.stop), np.arange(b.start, b.stop), indexing="ij")
        keep = ia < ib
        if min_distance_bp:
            near = (chrom[ia] == chrom[ib]) & (np.abs(pos[ia] - pos[ib]) < min_distance_bp)
            keep &= ~near
        cols = finish(test, {k: v[keep] for k, v in raw.items()})
        cols = {"idx_a": p.loci[ia[keep]], "idx_b": p.loci[ib[keep]], **cols}
        sel = ~np.isnan(cols["P"])
        if p_threshold is not None:
            sel &= cols["P"] <= p_threshold
        if top is not None and best is not None and len(best["P"]) >= top:
            sel &= cols["P"] <= best["P"][top - 1]
        cols = {k: v[sel] for k, v in cols.items()}
        if best is not None:
            cols = {k: np.concatenate([best[k], cols[k]]) for k in cols}
        order = _rank_order(cols, test)
        best = {k: v[order[:top]] for k, v in cols.items()}
    if best is None:
        best = {"idx_a": np.zeros(0, np.int64), "idx_b": np.zeros(0, np.int64)}
        best |= finish(test, _EMPTY)
    return _frame(best)

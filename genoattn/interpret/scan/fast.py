"""The product test for blocks without missing calls: closed-form 3x3 solves (the fast route).

Axis legend: n samples, a / b loci of the left / right block, r columns of [1, covariates],
d digits of the quantised trait.

Covariates and intercept are projected out first (Frisch-Waugh-Lovell), leaving a 3x3 system in
the regressors g_a, g_b, g_a g_b per pair. Without covariates every Gram entry is an integer
moment of the dosages, computed exactly by int8 matrix products (int32 accumulation), and the
trait column sum_i g_a g_b y is an integer product too: y is written in fixed point as
``D`` balanced base-128 digits (each in [-64, 63], so g * digit fits int8), one int8 product per
digit. With D = 6 the quantisation step is 2^-41 max|y| (5e-13 max|y|, while phenotype files
carry 6-7 significant digits): the statistics match the float64 naive OLS to rtol 1e-8, as the
tests check (D = 5 does not, for small BETA_INT), while the whole block runs at int8 speed.
"""

from __future__ import annotations

from functools import partial

import numpy as np
import torch

from genoattn.interpret.scan.kernels import _EPS
from genoattn.stats.teststats import ProductStats

Y_DIGITS = 6


def quantise_trait(y: np.ndarray, digits: int = Y_DIGITS) -> tuple[np.ndarray, float]:
    """Balanced base-128 digits of y in fixed point.

    Returns:
        digits shape (D, n) int8 in [-64, 63] and ``scale`` with
        y ~= scale * sum_d 128^d digits[d] (error <= scale / 2 = 2^-(7D-1) max|y| / 2).
    """
    amax = float(np.abs(y).max()) if len(y) else 0.0
    scale = amax / 2.0 ** (7 * digits - 2) if amax > 0 else 1.0
    v = np.rint(y / scale).astype(np.int64)  # |v| <= 2^(7D-2) < 64 (128^D - 1) / 127
    out = np.empty((digits, len(y)), np.int8)
    for d in range(digits):
        r = (v + 64) % 128 - 64
        out[d] = r
        v = (v - r) // 128
    assert not v.any(), "trait does not fit the fixed-point digits"
    return out, scale


def int_matmul(x: torch.Tensor, y: torch.Tensor, bound: int) -> torch.Tensor:
    """Exact product of int8 matrices (k, n) @ (n, m) whose |products| are <= ``bound``.

    Uses the int8 GEMM (int32 accumulation, several times faster than float32 on CPUs with
    VNNI) when this build offers it for these shapes; otherwise float32, exact while the sums
    stay below 2^24, else float64.
    """
    if hasattr(torch, "_int_mm") and bound * x.shape[1] < 2**31:
        try:
            return torch._int_mm(x, y)
        except RuntimeError:
            pass
    dt = torch.float32 if bound * x.shape[1] < 2**24 else torch.float64
    return x.to(dt) @ y.to(dt)


CHUNK = 32_768  # pairs per step of the element-wise solve: its temporaries stay in cache


def product_fast_block(
    st_a: torch.Tensor,
    st_b: torch.Tensor,
    mom_a: torch.Tensor,
    mom_b: torch.Tensor,
    q: torch.Tensor,
    y_res: torch.Tensor,
    y_digits: torch.Tensor,
    y_scale: float,
) -> ProductStats:
    """Product test for all pairs of two blocks of called dosages (no MISSING).

    Args:
        st_a, st_b: shapes (n, a), (n, b), int8 dosages 0/1/2.
        mom_a, mom_b: shapes (4, a), (4, b), float64: sum g, sum g^2, sum g y, mean g.
        q: shape (n, r), orthonormal basis of [1, covariates]; y_res: shape (n,), y with it
            projected out; y_digits: shape (D, n), int8 (see :func:`quantise_trait`).

    Returns:
        beta, se, n: shape (a, b), float64 (NaN where the 3x3 system is singular).
    """
    n, na = st_a.shape
    nb = st_b.shape[1]
    if q.shape[1] == 1:
        sums = _int_sums(st_a, st_b, y_digits)
        gram = partial(_gram_int, sums, mom_a, mom_b, y_res, y_scale)
    else:
        full = _gram_fwl(st_a, st_b, mom_a, mom_b, q, y_res)
        gram = partial(_rows, full)
    dof = n - q.shape[1] - 3
    beta = st_a.new_empty((na, nb), dtype=torch.float64)
    se = torch.empty_like(beta)
    step = max(1, CHUNK // max(nb, 1))
    # Row chunks: ~40 element-wise passes over cache-resident arrays instead of main memory.
    for i in range(0, na, step):
        r = slice(i, min(i + step, na))
        beta[r], se[r] = _solve3(*gram(r), dof)
    return ProductStats(beta, se, torch.full_like(beta, float(n)))


def _solve3(a11, a12, a13, a22, a23, a33, r1, r2, r3, yy, dof: int):
    """BETA_INT and SE of the 3x3 normal equations of each pair (adjugate formulas)."""
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
    se = torch.sqrt(rss.clamp_min(0) / max(dof, 1) * c33 / det)
    ok = ok & (dof > 0)
    nan = torch.full_like(b3, float("nan"))
    return torch.where(ok, b3, nan), torch.where(ok, se, nan)


def _rows(full: tuple, r: slice) -> tuple:
    """Rows ``r`` of the Gram entries (scalars and (1, b) rows are shared by all rows)."""
    return tuple(x[r] if x.dim() and x.shape[0] > 1 else x for x in full)


def _centred(st: torch.Tensor, mom: torch.Tensor) -> torch.Tensor:
    return st.to(torch.float64) - mom[3]  # (n, k): h = g - mean


def _gram_fwl(st_a, st_b, mom_a, mom_b, q, yr):
    """Gram entries (a, b) of [M g_a, M g_b, M g_a g_b] and their products with M y."""
    ha, hb = _centred(st_a, mom_a), _centred(st_b, mom_b)  # (n, a), (n, b)
    ta, tb = ha - q @ (q.T @ ha), hb - q @ (q.T @ hb)  # covariates projected out
    a12 = ta.T @ tb
    a13 = (ta * ha).T @ hb  # <M h_a, h_a h_b> = <M h_a, M(h_a h_b)>
    a23 = ha.T @ (tb * hb)
    a33 = (ha * ha).T @ (hb * hb)
    for j in range(q.shape[1]):  # ||M(h_a h_b)||^2 = ||h_a h_b||^2 - ||Q'(h_a h_b)||^2
        a33 = a33 - ((q[:, j : j + 1] * ha).T @ hb) ** 2
    r3 = (ha * yr[:, None]).T @ hb
    a11, a22 = (ta * ta).sum(0)[:, None], (tb * tb).sum(0)[None, :]
    r1, r2 = (ta.T @ yr)[:, None], (tb.T @ yr)[None, :]
    return a11, a12, a13, a22, a23, a33, r1, r2, r3, (yr * yr).sum()


def _int_sums(st_a, st_b, y_digits):
    """Exact integer sums of every pair: g_a^p g_b^q (p, q in 1, 2) and g_a g_b y per digit.

    Returns:
        m: shape (a, 2, b, 2), int32 (or exact float), [p - 1, q - 1] = sum g_a^p g_b^q;
        ry: shape (D, a, b), the same for sum g_a g_b digit_d.
    """
    n, na = st_a.shape
    nb = st_b.shape[1]
    ga = torch.cat([st_a, st_a * st_a], 1).T.contiguous()  # (2 a, n): g then g^2
    gb = torch.cat([st_b, st_b * st_b], 1)  # (n, 2 b)
    m = int_matmul(ga, gb, 16).view(2, na, 2, nb).permute(1, 0, 3, 2)  # (a, p, b, q)
    d = y_digits.shape[0]
    gy = (st_a.T[None] * y_digits[:, None, :]).reshape(d * na, n)  # (D a, n), |.| <= 128
    ry = int_matmul(gy, st_b, 256).view(d, na, nb)
    return m, ry


def _gram_int(sums, mom_a, mom_b, y, y_scale, r: slice):
    """As :func:`_gram_fwl` for intercept only (rows ``r``), from the exact integer sums."""
    m, ry = sums
    n = y.shape[0]
    m = m[r].double()
    s_ab, s_abb, s_aab, s_aabb = m[:, 0, :, 0], m[:, 0, :, 1], m[:, 1, :, 0], m[:, 1, :, 1]
    ry = ry[:, r].double()
    r3 = ry[0] * y_scale  # sum_i g_a g_b y_i = scale * sum_d 128^d (digit products)
    for k in range(1, ry.shape[0]):
        r3 = r3 + ry[k] * (y_scale * 128.0**k)
    sa, qa, ya, _ = (v[r, None] for v in mom_a)
    sb, qb, yb, _ = (v[None, :] for v in mom_b)
    a11, a22 = qa - sa * sa / n, qb - sb * sb / n
    a12 = s_ab - sa * sb / n
    a13 = s_aab - sa * s_ab / n
    a23 = s_abb - sb * s_ab / n
    a33 = s_aabb - s_ab * s_ab / n
    return a11, a12, a13, a22, a23, a33, ya, yb, r3, (y * y).sum()

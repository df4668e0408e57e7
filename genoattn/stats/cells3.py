"""Genotype-class cell sums of locus triples, blocked as matrix products over one-hot genotypes.

Axis legend: n samples, l loci, a / b / c loci of the three blocks of a tile, m weight columns,
k = 27 genotype cells (9 g_a + 3 g_b + g_c), t triples.

For weights w (n,), the 3x3x3 table sum_{i: g_a = r, g_b = s, g_c = u} w_i is the triple product
of one-hot indicators. A missing call has an all-zero one-hot row, so a sample missing at any of
the three loci drops out of that triple (as in the pair scan).

Two routes:

* :func:`tile_cells_complete` (blocks without missing calls): only the indicators of the two
  non-reference classes, [g = 1] and [g = 2], enter the triple product (8 of 27 combinations);
  the class-0 indicator is 1 - [g = 1] - [g = 2], so every cell follows by inclusion-exclusion
  from that product plus pair, single-locus and total sums, which cost O(n l^2) instead of
  O(n l^3). The triple product is (n, 2 a m)' (n, 4 b c): 32 n flops per triple with m = 2.
* :func:`tile_cells_onehot` (any block with missing calls): the full one-hot product,
  (n, 3 a m)' (n, 9 b c), 162 n flops per triple with m = 3.
"""

from __future__ import annotations

import torch


def onehot_t(states: torch.Tensor, classes, dtype=torch.float32) -> torch.Tensor:
    """shape (l, len(classes), n): indicators [g = k] of int8 classes (n, l), samples last
    (contiguous broadcasting in the products below); MISSING (-1) gives zeros."""
    k = torch.as_tensor(classes, device=states.device, dtype=states.dtype)
    return (states.T[:, None, :] == k[None, :, None]).to(dtype)


def tile_cells_complete(
    states: torch.Tensor, w: torch.Tensor, a: slice, b: slice, c: slice
) -> torch.Tensor:
    """shape (m, 27, na, nb, nc), float64: cell sums of every triple of three blocks.

    Args:
        states: shape (n, l), int8 genotype classes 0, 1, 2, no missing call in blocks a, b, c.
        w: shape (n, m), float32 or float64 weights (e.g. [1, y]); its dtype is the GEMM's.
    """
    n, m = w.shape
    ha, hb, hc = (onehot_t(states[:, s], (1, 2), w.dtype) for s in (a, b, c))  # (., 2, n)
    na, nb, nc = ha.shape[0], hb.shape[0], hc.shape[0]
    wt = w.T.contiguous()  # (m, n)
    left = (ha[:, :, None, :] * wt[None, None]).reshape(-1, n)  # (2 a m, n)
    right = (hb[:, :, None, None, :] * hc[None, None]).reshape(-1, n)  # (4 b c, n)
    d = torch.float64
    t3 = (left @ right.T).to(d).view(na, 2, m, nb, 2, nc, 2).permute(2, 1, 4, 6, 0, 3, 5)
    p_ab = (left @ hb.reshape(-1, n).T).to(d).view(na, 2, m, nb, 2).permute(2, 1, 4, 0, 3)
    p_ac = (left @ hc.reshape(-1, n).T).to(d).view(na, 2, m, nc, 2).permute(2, 1, 4, 0, 3)
    lb = (hb[:, :, None, :] * wt[None, None]).reshape(-1, n)
    p_bc = (lb @ hc.reshape(-1, n).T).to(d).view(nb, 2, m, nc, 2).permute(2, 1, 4, 0, 3)
    s_a = (ha.reshape(-1, n) @ w).to(d).view(na, 2, m).permute(2, 1, 0)
    s_b = (hb.reshape(-1, n) @ w).to(d).view(nb, 2, m).permute(2, 1, 0)
    s_c = (hc.reshape(-1, n) @ w).to(d).view(nc, 2, m).permute(2, 1, 0)
    tot = w.sum(0).to(d)  # (m,)
    # sums in the u-basis (u0 = 1, u1 = [g = 1], u2 = [g = 2]), shape (m, 3, 3, 3, a, b, c)
    u = t3.new_empty(m, 3, 3, 3, na, nb, nc)
    u[:, 0, 0, 0] = tot[:, None, None, None]
    u[:, 1:, 0, 0] = s_a[:, :, :, None, None]
    u[:, 0, 1:, 0] = s_b[:, :, None, :, None]
    u[:, 0, 0, 1:] = s_c[:, :, None, None, :]
    u[:, 1:, 1:, 0] = p_ab[..., None]
    u[:, 1:, 0, 1:] = p_ac[:, :, :, :, None, :]
    u[:, 0, 1:, 1:] = p_bc[:, :, :, None]
    u[:, 1:, 1:, 1:] = t3
    # one-hot class 0 = u0 - u1 - u2, along each locus axis in turn
    u[:, 0] -= u[:, 1] + u[:, 2]
    u[:, :, 0] -= u[:, :, 1] + u[:, :, 2]
    u[:, :, :, 0] -= u[:, :, :, 1] + u[:, :, :, 2]
    return u.reshape(m, 27, na, nb, nc)


def tile_cells_onehot(
    states: torch.Tensor, w: torch.Tensor, a: slice, b: slice, c: slice
) -> torch.Tensor:
    """As :func:`tile_cells_complete` for blocks with missing calls (full one-hot product)."""
    n, m = w.shape
    oa, ob, oc = (onehot_t(states[:, s], (0, 1, 2), w.dtype) for s in (a, b, c))  # (., 3, n)
    na, nb, nc = oa.shape[0], ob.shape[0], oc.shape[0]
    left = (oa[:, :, None, :] * w.T.contiguous()[None, None]).reshape(-1, n)  # (3 a m, n)
    right = (ob[:, :, None, None, :] * oc[None, None]).reshape(-1, n)  # (9 b c, n)
    r = (left @ right.T).double().view(na, 3, m, nb, 3, nc, 3)
    return r.permute(2, 1, 4, 6, 0, 3, 5).reshape(m, 27, na, nb, nc)


def triple_cells(states: torch.Tensor, w: torch.Tensor, triples: torch.Tensor) -> torch.Tensor:
    """shape (t, 27, m), float64: cell sums of the listed triples (t, 3) of locus columns."""
    n = states.shape[0]
    oh = states[:, triples.reshape(-1), None] == torch.arange(3, device=states.device)
    oh = oh.to(torch.float64).view(n, -1, 3, 3)
    ab = (oh[:, :, 0, :, None] * oh[:, :, 1, None, :]).reshape(n, -1, 9)
    abc = (ab[..., None] * oh[:, :, 2, None, :]).reshape(n, -1, 27)  # (n, t, 27)
    return torch.einsum("ntk,nm->tkm", abc, w.double())

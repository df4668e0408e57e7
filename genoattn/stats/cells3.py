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

# u-basis (1, [g=1], [g=2]) -> one-hot (class 0, 1, 2): e0 = u0 - u1 - u2, e1 = u1, e2 = u2
_A = torch.tensor([[1.0, -1.0, -1.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]], dtype=torch.float64)


def onehot(states: torch.Tensor, k: int = 3, dtype=torch.float32) -> torch.Tensor:
    """shape (n, l, k): one-hot of int8 class codes (n, l); MISSING (-1) gives a zero row."""
    return (states[..., None] == torch.arange(k, device=states.device)).to(dtype)


def tile_cells_complete(
    states: torch.Tensor, w: torch.Tensor, a: slice, b: slice, c: slice
) -> torch.Tensor:
    """shape (na, nb, nc, 27, m), float64: cell sums of every triple of three blocks.

    Args:
        states: shape (n, l), int8 genotype classes 0, 1, 2, no missing call in blocks a, b, c.
        w: shape (n, m), float32 or float64 weights (e.g. [1, y]); its dtype is the GEMM's.
    """
    n, m = w.shape
    hi = onehot(states, 3, w.dtype)[..., 1:]  # (n, l, 2): [g = 1], [g = 2]
    ha, hb, hc = hi[:, a], hi[:, b], hi[:, c]
    na, nb, nc = ha.shape[1], hb.shape[1], hc.shape[1]
    left = (ha[..., None] * w[:, None, None, :]).reshape(n, na * 2 * m)  # (n, 2 a m)
    right = (hb[:, :, :, None, None] * hc[:, None, None, :, :]).reshape(n, -1)  # (n, 4 b c)
    t3 = (left.T @ right).double().view(na, 2, m, nb, 2, nc, 2)
    p_ab = (left.T @ hb.reshape(n, -1)).double().view(na, 2, m, nb, 2)
    p_ac = (left.T @ hc.reshape(n, -1)).double().view(na, 2, m, nc, 2)
    lb = (hb[..., None] * w[:, None, None, :]).reshape(n, nb * 2 * m)
    p_bc = (lb.T @ hc.reshape(n, -1)).double().view(nb, 2, m, nc, 2)
    s_a = (ha.reshape(n, -1).T @ w).double().view(na, 2, m)
    s_b = (hb.reshape(n, -1).T @ w).double().view(nb, 2, m)
    s_c = (hc.reshape(n, -1).T @ w).double().view(nc, 2, m)
    tot = w.sum(0).double()  # (m,)
    u = t3.new_zeros(na, nb, nc, 3, 3, 3, m)  # sums in the u-basis, u0 = 1
    u[..., 0, 0, 0, :] = tot
    u[..., 1:, 0, 0, :] = s_a[:, None, None]
    u[..., 0, 1:, 0, :] = s_b[None, :, None]
    u[..., 0, 0, 1:, :] = s_c[None, None, :]
    u[..., 1:, 1:, 0, :] = p_ab.permute(0, 3, 1, 4, 2)[:, :, None]
    u[..., 1:, 0, 1:, :] = p_ac.permute(0, 3, 1, 4, 2)[:, None]
    u[..., 0, 1:, 1:, :] = p_bc.permute(0, 3, 1, 4, 2)[None]
    u[..., 1:, 1:, 1:, :] = t3.permute(0, 3, 5, 1, 4, 6, 2)
    A = _A.to(u.device)
    cells = torch.einsum("ir,js,ku,...rsum->...ijkm", A, A, A, u)
    return cells.reshape(na, nb, nc, 27, m)


def tile_cells_onehot(
    states: torch.Tensor, w: torch.Tensor, a: slice, b: slice, c: slice
) -> torch.Tensor:
    """As :func:`tile_cells_complete` for blocks with missing calls (full one-hot product)."""
    n, m = w.shape
    oh = onehot(states, 3, w.dtype)
    oa, ob, oc = oh[:, a], oh[:, b], oh[:, c]
    na, nb, nc = oa.shape[1], ob.shape[1], oc.shape[1]
    left = (oa[..., None] * w[:, None, None, :]).reshape(n, na * 3 * m)  # (n, 3 a m)
    right = (ob[:, :, :, None, None] * oc[:, None, None, :, :]).reshape(n, -1)  # (n, 9 b c)
    r = (left.T @ right).double().view(na, 3, m, nb, 3, nc, 3)
    return r.permute(0, 3, 5, 1, 4, 6, 2).reshape(na, nb, nc, 27, m)


def triple_cells(states: torch.Tensor, w: torch.Tensor, triples: torch.Tensor) -> torch.Tensor:
    """shape (t, 27, m), float64: cell sums of the listed triples (t, 3) of locus columns."""
    n = states.shape[0]
    oh = onehot(states[:, triples.reshape(-1)], 3, torch.float64).view(n, -1, 3, 3)
    ab = (oh[:, :, 0, :, None] * oh[:, :, 1, None, :]).reshape(n, -1, 9)
    abc = (ab[..., None] * oh[:, :, 2, None, :]).reshape(n, -1, 27)  # (n, t, 27)
    return torch.einsum("ntk,nm->tkm", abc, w.double())

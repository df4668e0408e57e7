"""Screening of locus pairs and triples, and marginal main-effect scores, tile by tile.

Axis legend: n samples, l loci, d contrasts per locus, K states + 1, k candidates.

Contrasts enter as tiles (sample block x locus block) of a :class:`ContrastSource`: gathered from
the int8 states through the per-locus table (``StateContrasts``), or sliced from a dense (n, l, d)
tensor (``DenseContrasts``, for references and small problems). Pair scores are matrix products
of tile contrasts accumulated over sample tiles, so memory is O(tile), never O(n l d).
"""

from __future__ import annotations

import numpy as np
import torch

from genoattn.sparse.nonref import NonRef, block_pair_tables, nonref_of
from genoattn.stats.topk import top_pairs

#: Budget of one contrast tile (float entries), which sets the rows per sample tile.
TILE_ENTRIES = 1 << 22


class StateContrasts:
    """Contrast tiles of int8 states: z[i, a] = table[a, states[i, a] + 1].

    states: shape (n, l), int8 (MISSING = -1); table: shape (l, K, d), float, row 0 zero.
    """

    def __init__(self, states: torch.Tensor, table: torch.Tensor):
        self.states, self.table = states, table
        self.n, self.l = states.shape
        self.d = table.shape[2]
        self.dtype, self.device = table.dtype, table.device

    def tile(self, rows: slice, loci: torch.Tensor) -> torch.Tensor:
        """shape (nb, len(loci), d)."""
        s = self.states[rows][:, loci].long() + 1  # (nb, la)
        return self.table[loci[None, :], s]


class DenseContrasts:
    """Contrast tiles sliced from a dense tensor z of shape (n, l, d)."""

    def __init__(self, z: torch.Tensor):
        self.z = z
        self.n, self.l, self.d = z.shape
        self.dtype, self.device = z.dtype, z.device

    def tile(self, rows: slice, loci: torch.Tensor) -> torch.Tensor:
        return self.z[rows][:, loci]


ContrastSource = StateContrasts | DenseContrasts


def as_source(z) -> ContrastSource:
    return DenseContrasts(z) if isinstance(z, torch.Tensor) else z


def _row_tiles(n: int, cols: int):
    step = max(64, TILE_ENTRIES // max(cols, 1))
    for i0 in range(0, n, step):
        yield slice(i0, min(i0 + step, n))


def main_scores(src, y: torch.Tensor, n_active: np.ndarray, block: int = 4096) -> np.ndarray:
    """shape (l,): per-df marginal score (1/df) sum_u (z_u^T y)^2 / ||z_u||^2 of every locus."""
    src = as_source(src)
    nr = _nonref(src)
    if nr is not None:  # z_u^T y = T_a[:, u]^T R_a and ||z_u||^2 = T_a[:, u]^2 . N_a by state
        t = src.table.double()
        num = torch.einsum("aku,ak->au", t, nr.sums(y))
        den = torch.einsum("aku,ak->au", t * t, nr.sums(torch.ones_like(y)))
        score = (num**2 / torch.clamp(den, min=1e-12)).sum(1).cpu().numpy()
        return score / np.maximum(n_active, 1)
    out = []
    for a0 in range(0, src.l, block):
        loci = torch.arange(a0, min(a0 + block, src.l), device=src.device)
        num = torch.zeros(len(loci), src.d, dtype=src.dtype, device=src.device)
        den = torch.zeros_like(num)
        for rows in _row_tiles(src.n, len(loci) * src.d):
            z = src.tile(rows, loci)  # (nb, la, d)
            num += torch.einsum("nad,n->ad", z, y[rows])
            den += (z * z).sum(0)
        out.append((num**2 / torch.clamp(den, min=1e-12)).sum(1))
    score = torch.cat(out).cpu().numpy() if out else np.zeros(0)
    return score / np.maximum(n_active, 1)


def _nonref(src) -> NonRef | None:
    """The non-reference entries of a state source on the sparse route, else None."""
    if not isinstance(src, StateContrasts):
        return None
    return nonref_of(src.states, src.table.shape[1])


def _pair_block(src, resid, la: torch.Tensor, lb: torch.Tensor):
    """Scores (la, lb) sum_uv (w^T r)^2 / ||w||^2 and largest squared contrast correlation."""
    d = src.d
    m = torch.zeros(len(la) * d, len(lb) * d, dtype=src.dtype, device=src.device)
    norm2, corr = torch.zeros_like(m), torch.zeros_like(m)
    for rows in _row_tiles(src.n, (len(la) + len(lb)) * d):
        za = src.tile(rows, la).reshape(-1, len(la) * d)  # (nb, la*d)
        zb = src.tile(rows, lb).reshape(-1, len(lb) * d)
        m += (za * resid[rows, None]).T @ zb
        norm2 += (za * za).T @ (zb * zb)
        corr += za.T @ zb
    s = (m**2 / torch.clamp(norm2, min=1e-12)).reshape(len(la), d, len(lb), d).sum((1, 3))
    ld = ((corr / src.n) ** 2).reshape(len(la), d, len(lb), d).amax((1, 3))
    return s, ld


def _pair_block_counts(src: StateContrasts, resid, la: torch.Tensor, lb: torch.Tensor):
    """As :func:`_pair_block`, through state-pair tables: for loci with many states (d ~ 20),
    sum_i z_au(i) z_bv(i) r_i = T_a[:, u]^T R_ab T_b[:, v] with R_ab[s, t] the residual summed
    over samples in states (s, t): a bincount of n values per pair instead of d^2 products."""
    k, na, nb_ = src.table.shape[1], len(la), len(lb)
    bins = na * nb_ * k * k
    r_tab = torch.zeros(bins, dtype=src.dtype, device=src.device)
    n_tab = torch.zeros_like(r_tab)
    base = (torch.arange(na * nb_, device=src.device) * k * k).view(na, nb_)
    nr = _nonref(src)
    if nr is not None:  # the tables from the non-reference entries (nonref.py)
        r_tab = block_pair_tables(nr, resid, la, lb).to(src.dtype).reshape(-1)
        n_tab = block_pair_tables(nr, torch.ones_like(resid), la, lb).to(src.dtype).reshape(-1)
    for rows in _row_tiles(src.n if nr is None else 0, na * nb_):
        sa = src.states[rows][:, la].long() + 1  # (nb, la)
        sb = src.states[rows][:, lb].long() + 1  # (nb, lb)
        idx = (base[None] + sa[:, :, None] * k + sb[:, None, :]).reshape(-1)
        w = resid[rows, None].expand(-1, na * nb_).reshape(-1)
        r_tab += torch.bincount(idx, w, minlength=bins).to(src.dtype)
        n_tab += torch.bincount(idx, minlength=bins).to(src.dtype)
    ta, tb = src.table[la], src.table[lb]  # (la, K, d), (lb, K, d)

    def contract(tab, xa, xb):  # (la, lb, K, K) -> (la*d, lb*d)
        q = torch.einsum("abst,btv->absv", tab.view(na, nb_, k, k), xb)
        return torch.einsum("asu,absv->aubv", xa, q).reshape(na * src.d, nb_ * src.d)

    m = contract(r_tab, ta, tb)
    norm2 = contract(n_tab, ta * ta, tb * tb)
    corr = contract(n_tab, ta, tb)
    d = src.d
    s = (m**2 / torch.clamp(norm2, min=1e-12)).reshape(na, d, nb_, d).sum((1, 3))
    ld = ((corr / src.n) ** 2).reshape(na, d, nb_, d).amax((1, 3))
    return s, ld


def _use_counts(src, block: int) -> bool:
    """State-pair tables beat contrast products when d^2 products per pair cost more than a
    bincount, i.e. for many-state (sequence) loci, and their tables fit in memory."""
    if not isinstance(src, StateContrasts):
        return False
    k = src.table.shape[1]
    return src.d >= 4 and min(block, src.l) ** 2 * k * k <= 1 << 25


def screen_pairs(
    z,
    resid: torch.Tensor,
    n_active: np.ndarray,
    k: int,
    block: int = 1024,
    max_r2: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Top-k locus pairs by the per-df score (1/df) sum_uv (w_uv^T r)^2 / ||w_uv||^2 with
    w_uv = z_au z_bv: each term is a 1-df score statistic (times the residual variance).

    Pairs of loci in linkage disequilibrium are skipped (largest squared correlation between
    their contrasts > ``max_r2``): the product of two correlated loci mimics a haplotype or main
    effect, and would take the place of real interactions.

    Args:
        z: a :class:`ContrastSource` of the training samples, or their dense (n, l, d) contrasts.
        resid: shape (n,); n_active: shape (l,), contrasts in use per locus (df = product).
        block: loci per locus tile (all pairs of two tiles are scored together).
    Returns:
        pairs (k, 2) int64 with a < b, and their scores (k,), best first (ties by a, then b).
    """
    src = as_source(z)
    act = torch.as_tensor(n_active, dtype=src.dtype, device=src.device)
    pair_block = _pair_block_counts if _use_counts(src, block) else _pair_block

    def score(a: slice, b: slice) -> torch.Tensor:  # (la, lb); -inf: pair in LD
        la = torch.arange(a.start, a.stop, device=src.device)
        lb = torch.arange(b.start, b.stop, device=src.device)
        s, ld = pair_block(src, resid, la, lb)
        df = act[la, None] * act[None, lb]
        s = torch.where(df > 0, s / torch.clamp(df, min=1), torch.zeros_like(s))
        return torch.where(ld <= max_r2, s, torch.full_like(s, -torch.inf))

    return top_pairs(score, src.l, k, block)  # stats/topk.py


def _triple_block(src, resid, seeds: np.ndarray, lc: torch.Tensor):
    """For seed pairs (S, 2) and third loci lc: scores (S, lc) and largest r^2 with a or b."""
    d, n_seed = src.d, len(seeds)
    sa = torch.as_tensor(seeds[:, 0], device=src.device)
    sb = torch.as_tensor(seeds[:, 1], device=src.device)
    m = torch.zeros(n_seed * d * d, len(lc) * d, dtype=src.dtype, device=src.device)
    norm2 = torch.zeros_like(m)
    corr = torch.zeros(2 * n_seed * d, len(lc) * d, dtype=src.dtype, device=src.device)
    cols = (n_seed * (d * d + 2 * d) + len(lc) * d) * 2
    for rows in _row_tiles(src.n, cols):
        za, zb, zc = src.tile(rows, sa), src.tile(rows, sb), src.tile(rows, lc)
        nb = zc.shape[0]
        w = (za[:, :, :, None] * zb[:, :, None, :]).reshape(nb, -1)  # (nb, S*d^2)
        zc = zc.reshape(nb, -1)  # (nb, lc*d)
        m += (w * resid[rows, None]).T @ zc
        norm2 += (w * w).T @ (zc * zc)
        corr += torch.cat([za.reshape(nb, -1), zb.reshape(nb, -1)], dim=1).T @ zc
    s = (m**2 / torch.clamp(norm2, min=1e-12)).reshape(n_seed, d * d, len(lc), d).sum((1, 3))
    ld = ((corr / src.n) ** 2).reshape(2, n_seed, d, len(lc), d).amax((0, 2, 4))
    return s, ld


def screen_triples(
    z,
    resid: torch.Tensor,
    n_active: np.ndarray,
    seeds: np.ndarray,
    k: int,
    max_r2: float = 1.0,
    block: int = 4096,
) -> tuple[np.ndarray, np.ndarray]:
    """Top-k triples (a, b, c) that extend a seed pair (a, b) by any third locus c.

    Score: the per-df sum of normalised 1-df score statistics, as for pairs. Searching seed
    pairs x all loci costs O(k_seed l) triples instead of O(l^3); 3-way effects that leave no
    trace in any pair are found only when their pair is among the seeds (weak heredity).
    Loci in LD with a or b are skipped.

    Args:
        z: a :class:`ContrastSource` (or dense (n, l, d) contrasts); resid: (n,);
        seeds: (k_seed, 2) pairs.
    Returns: triples (k, 3) sorted within each row, scores (k,), best first.
    """
    src = as_source(z)
    seeds = np.asarray(seeds, dtype=np.int64).reshape(-1, 2)
    l = src.l
    if k == 0 or len(seeds) == 0 or l < 3:
        return np.zeros((0, 3), dtype=np.int64), np.zeros(0)
    act = np.asarray(n_active, dtype=np.float64)
    best: dict[tuple[int, int, int], float] = {}
    for c0 in range(0, l, block):
        lc = torch.arange(c0, min(c0 + block, l), device=src.device)
        s, ld = _triple_block(src, resid, seeds, lc)
        df = act[seeds[:, 0], None] * act[seeds[:, 1], None] * act[None, c0 : c0 + len(lc)]
        s = s.cpu().numpy()
        s = np.where(df > 0, s / np.maximum(df, 1), 0.0)
        s[ld.cpu().numpy() > max_r2] = -1.0
        for j, (a, b) in enumerate(seeds.tolist()):
            row = s[j].copy()
            for x in (a, b):
                if c0 <= x < c0 + len(lc):
                    row[x - c0] = -1.0
            for c in np.argsort(-row, kind="stable")[: min(k, len(row))]:
                if row[c] > 0:
                    key = tuple(sorted((a, b, int(c) + c0)))
                    best[key] = max(best.get(key, 0.0), float(row[c]))
    items = sorted(best.items(), key=lambda kv: -kv[1])[:k]
    if not items:
        return np.zeros((0, 3), dtype=np.int64), np.zeros(0)
    return (
        np.array([t for t, _ in items], dtype=np.int64),
        np.array([v for _, v in items], dtype=np.float64),
    )

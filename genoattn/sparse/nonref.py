"""Non-reference entries of int8 states: the sparse route for libraries close to a reference.

Axis legend: n samples, l loci, K states + 1 (index 0 = missing), e non-reference entries,
e2 pairs of non-reference entries in the same sample, k2 pair groups.

A MAVE library differs from wild type at a few positions per sequence (a GB1 double mutant at 2
of 55), and low-frequency variants are mostly the common homozygote. With r_a the most common
state of locus a, any per-group state table splits exactly into its value at the reference and
differences that vanish there:

    V[s]    = V[r] + (V[s] - V[r])                                 (zero unless s != r)
    P[s, t] = P[r_a, r_b] + (P[s, r_b] - P[r_a, r_b]) + (P[r_a, t] - P[r_a, r_b])
              + (P[s, t] - P[s, r_b] - P[r_a, t] + P[r_a, r_b])    (zero unless s, t both != r)

so ``X @ beta`` (a sum of table lookups per sample, ``operator.py``) costs O(e + e2) instead of
O(n x groups). In the other direction, a table R[s] of r summed by state is known from its
non-reference cells and the total (R[r] = sum(r) - sum_{s != r} R[s]), and a pair table R[s, t]
from its doubly non-reference cells and the margins of both loci. The missing state is one more
non-reference state. Nothing (n, l)-sized beyond the int8 states and one boolean tile is formed.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field

import torch

#: The sparse route is taken when at most this fraction of (sample, locus) entries differs from
#: the reference ...
DENSITY_MAX = 0.1
#: ... they number at most this (3 int64 indices each) ...
ENTRIES_MAX = 1 << 26
#: ... and the pairs of non-reference entries sharing a sample (the doubly non-reference cells
#: of every pair table) number at most this.
PAIRS_MAX = 1 << 26
#: Entries per tile when scanning the states (rows per tile = this / loci).
TILE_ENTRIES = 1 << 22


@dataclass
class NonRef:
    """The non-reference entries of states (n, l), sorted by (row, locus).

    ref: (l,) int64 reference state index (state + 1; the most common); row, locus, state:
    (e,) int64. ``pairs``: (e2, 2) int64 indices (i, j), i < j, of entries in the same row (so
    locus[i] < locus[j]), built on first use.
    """

    n: int
    l: int
    k: int
    ref: torch.Tensor
    row: torch.Tensor
    locus: torch.Tensor
    state: torch.Tensor
    n_pairs: int
    _pairs: torch.Tensor | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.cell = self.locus * self.k + self.state  # (e,) flat (locus, state) index

    @property
    def pairs(self) -> torch.Tensor:
        if self._pairs is None:
            out, e = [], len(self.row)
            for j in range(1, e):
                same = torch.nonzero(self.row[j:] == self.row[: e - j]).flatten()
                if not len(same):
                    break  # rows are sorted: no row holds more than j entries
                out.append(torch.stack([same, same + j], dim=1))
            self._pairs = torch.cat(out) if out else self.row.new_zeros((0, 2))
        return self._pairs

    def sums(self, r: torch.Tensor) -> torch.Tensor:
        """shape (l, K), float64: r (n,) summed over the samples in each (locus, state)."""
        out = torch.zeros(self.l * self.k, dtype=torch.float64, device=self.ref.device)
        out.index_add_(0, self.cell, r.index_select(0, self.row).double())
        out = out.view(self.l, self.k)
        at = torch.arange(self.l, device=out.device)
        out[at, self.ref] = r.double().sum() - out.sum(1)
        return out


_CACHE: dict[int, tuple[weakref.ref, NonRef | None]] = {}


def _counts(states: torch.Tensor, k: int, tile: int) -> torch.Tensor:
    """shape (l, K), int64: samples per (locus, state + 1)."""
    n, l = states.shape
    counts = torch.zeros(l, k, dtype=torch.int64, device=states.device)
    for i0 in range(0, n, tile):
        st = states[i0 : i0 + tile].long() + 1  # (nb, l)
        idx = st + torch.arange(l, device=st.device) * k
        counts += torch.bincount(idx.reshape(-1), minlength=l * k).view(l, k)
    return counts


def _build(states: torch.Tensor, k: int) -> NonRef | None:
    n, l = states.shape
    tile = max(1, TILE_ENTRIES // max(l, 1))
    # a dense cohort is told by its first tile (twice the threshold: no false refusals by chance)
    head = _counts(states[:tile], k, tile)
    if head.sum() and head.sum() - head.max(1).values.sum() > 2 * DENSITY_MAX * head.sum():
        return None
    counts = _counts(states, k, tile)
    ref = counts.argmax(1)  # (l,)
    e = int(n * l - counts.max(1).values.sum())
    if n * l == 0 or e > DENSITY_MAX * n * l or e > ENTRIES_MAX:
        return None
    rows, loci = [], []
    ref8 = (ref - 1).to(states.dtype)
    for i0 in range(0, n, tile):
        hit = torch.nonzero(states[i0 : i0 + tile] != ref8[None, :])  # (e_tile, 2)
        rows.append(hit[:, 0] + i0)
        loci.append(hit[:, 1])
    row, locus = torch.cat(rows), torch.cat(loci)
    state = states[row, locus].long() + 1
    per_row = torch.bincount(row, minlength=n)
    n_pairs = int((per_row * (per_row - 1) // 2).sum())
    if n_pairs > PAIRS_MAX:
        return None
    return NonRef(n, l, k, ref, row, locus, state, n_pairs)


def nonref_of(states: torch.Tensor, k: int) -> NonRef | None:
    """The :class:`NonRef` of ``states`` (n, l) int8 with K = ``k`` state slots, or None when
    the states are too dense for the sparse route. Kept per states tensor (the stages build many
    operators on the same samples)."""
    hit = _CACHE.get(id(states))
    if hit is not None and hit[0]() is states and (hit[1] is None or hit[1].k == k):
        return hit[1]
    out = _build(states, k)
    for key in [key for key, (ref, _) in _CACHE.items() if ref() is None]:
        del _CACHE[key]
    _CACHE[id(states)] = (weakref.ref(states), out)
    return out


def complete_pair_tables(
    both: torch.Tensor,
    sums_a: torch.Tensor,
    sums_b: torch.Tensor,
    ref_a: torch.Tensor,
    ref_b: torch.Tensor,
    total: float,
) -> torch.Tensor:
    """Full pair tables (g, K, K) from their doubly non-reference cells ``both`` (g, K, K; zero
    in row ref_a and column ref_b), the per-locus margins ``sums_a``/``sums_b`` (g, K) and the
    total: R[s, r_b] = R_a[s] - sum_{t != r_b} R[s, t], likewise R[r_a, t], and R[r_a, r_b] from
    the total."""
    g, k = both.shape[0], both.shape[1]
    out = both.clone()
    at = torch.arange(g, device=both.device)
    col_a = sums_a - both.sum(2)  # (g, K): R[s, r_b]
    col_a[at, ref_a] = 0.0
    row_b = sums_b - both.sum(1)  # (g, K): R[r_a, t]
    row_b[at, ref_b] = 0.0
    ks = torch.arange(k, device=both.device)
    out[at[:, None], ks[None, :], ref_b[:, None]] += col_a
    out[at[:, None], ref_a[:, None], ks[None, :]] += row_b
    out[at, ref_a, ref_b] = total - out.reshape(g, k * k).sum(1)
    return out


def block_pair_tables(nr: NonRef, r: torch.Tensor, la: torch.Tensor, lb: torch.Tensor):
    """shape (la, lb, K, K), float64: r summed over samples by the state pair of every locus pair
    (a in ``la``, b in ``lb``; contiguous locus ranges). Cells with a == b are meaningless."""
    na, nb, k = len(la), len(lb), nr.k
    a0, b0 = int(la[0]), int(lb[0])
    both = torch.zeros(na * nb * k * k, dtype=torch.float64, device=r.device)
    rd = r.double()
    pr = nr.pairs
    for i, j in ((pr[:, 0], pr[:, 1]), (pr[:, 1], pr[:, 0])):
        a, b = nr.locus[i] - a0, nr.locus[j] - b0
        ok = (a >= 0) & (a < na) & (b >= 0) & (b < nb)
        i, j, a, b = i[ok], j[ok], a[ok], b[ok]
        idx = ((a * nb + b) * k + nr.state[i]) * k + nr.state[j]
        both.index_add_(0, idx, rd[nr.row[i]])
    sums = nr.sums(r)
    ga = la[:, None].expand(na, nb).reshape(-1)
    gb = lb[None, :].expand(na, nb).reshape(-1)
    full = complete_pair_tables(
        both.view(na * nb, k, k), sums[ga], sums[gb], nr.ref[ga], nr.ref[gb], float(rd.sum())
    )
    return full.view(na, nb, k, k)


def group_pair_entries(nr: NonRef, pairs: torch.Tensor):
    """The doubly non-reference cells of the pair groups ``pairs`` (k2, 2), a < b: (group,
    row, state at a, state at b), each (e2',) int64."""
    pr = nr.pairs
    if not len(pairs) or not len(pr):
        z = pairs.new_zeros(0)
        return z, z, z, z
    key = pairs[:, 0] * nr.l + pairs[:, 1]
    order = torch.argsort(key)
    skey = key[order]
    ek = nr.locus[pr[:, 0]] * nr.l + nr.locus[pr[:, 1]]
    pos = torch.searchsorted(skey, ek).clamp(max=len(skey) - 1)
    ok = skey[pos] == ek
    i, j = pr[ok, 0], pr[ok, 1]
    return order[pos[ok]], nr.row[i], nr.state[i], nr.state[j]


@dataclass(frozen=True)
class GroupEntries:
    """The entries one operator's groups read, with their flat table indices.

    main: (m,) loci; pairs: (k2, 2) loci; main_ref: (m,) and pair_ref: (k2, 2) reference
    states; cell: (e',) flat (locus, state) index of the non-reference entries of every locus in
    a group, row: (e',) their samples; p_cell: (e2',) flat (group, state a, state b) index of the
    doubly non-reference cells of the pair groups, p_row: (e2',) their samples.
    """

    main: torch.Tensor
    pairs: torch.Tensor
    main_ref: torch.Tensor
    pair_ref: torch.Tensor
    cell: torch.Tensor
    row: torch.Tensor
    p_cell: torch.Tensor
    p_row: torch.Tensor


def group_entries(nr: NonRef, main: torch.Tensor, pairs: torch.Tensor) -> GroupEntries:
    """The :class:`GroupEntries` of main-effect loci ``main`` (m,) and pair groups (k2, 2)."""
    used = torch.zeros(nr.l, dtype=torch.bool, device=nr.ref.device)
    used[main] = True
    used[pairs.reshape(-1)] = True
    keep = used[nr.locus]
    g, p_row, sa, sb = group_pair_entries(nr, pairs)
    k = nr.k
    return GroupEntries(
        main, pairs, nr.ref[main], nr.ref[pairs], nr.cell[keep], nr.row[keep],
        (g * k + sa) * k + sb, p_row,
    )  # fmt: skip


def apply_tables(nr: NonRef, ge: GroupEntries, v: torch.Tensor, p: torch.Tensor, out):
    """Add sum_a V_a[s_ia] + sum_(a,b) P_ab[s_ia, s_ib] to ``out`` (n,) through the reference
    split of the module docstring; v: (m, K) main tables, p: (k2, K, K) pair tables."""
    ra, rb = ge.pair_ref[:, 0], ge.pair_ref[:, 1]
    am, ap = torch.arange(len(ge.main), device=v.device), torch.arange(len(ra), device=v.device)
    v0, p0 = v[am, ge.main_ref], p[ap, ra, rb]  # (m,), (k2,)
    p_col, p_row = p[ap, :, rb], p[ap, ra, :]  # (k2, K): P[s, r_b], P[r_a, t]
    w = torch.zeros(nr.l, nr.k, dtype=v.dtype, device=v.device)
    w.index_add_(0, ge.main, v - v0[:, None])
    w.index_add_(0, ge.pairs[:, 0], p_col - p0[:, None])
    w.index_add_(0, ge.pairs[:, 1], p_row - p0[:, None])
    out += v0.sum() + p0.sum()
    out.index_add_(0, ge.row, w.view(-1).index_select(0, ge.cell))
    if len(ge.p_row):
        inter = p - p_col[:, :, None] - p_row[:, None, :] + p0[:, None, None]  # (k2, K, K)
        out.index_add_(0, ge.p_row, inter.reshape(-1).index_select(0, ge.p_cell))
    return out


def state_tables(nr: NonRef, ge: GroupEntries, r: torch.Tensor):
    """r (n,) summed by state: main (m, K) and pair (k2, K, K) tables, float64."""
    sums = nr.sums(r)
    pa, pb, k = ge.pairs[:, 0], ge.pairs[:, 1], nr.k
    both = torch.zeros(len(pa) * k * k, dtype=torch.float64, device=r.device)
    both.index_add_(0, ge.p_cell, r.index_select(0, ge.p_row).double())
    full = complete_pair_tables(
        both.view(-1, k, k), sums[pa], sums[pb], ge.pair_ref[:, 0], ge.pair_ref[:, 1],
        float(r.double().sum()),
    )  # fmt: skip
    return sums[ge.main], full

"""Blocked design operators of the sparse fit: ``X @ beta`` and ``X^T r`` from int8 states.

Axis legend: n samples, l loci, K states + 1 (row 0 = missing), d contrasts per locus,
c covariates, m main-effect groups, k2 pair groups, k3 triple groups, p columns, g groups.

Columns, in order: [covariates (c) | main effects (m x d) | pairs (k2 x d^2) | triples (k3 x d^3)].
A product column z_a,u z_b,v depends on a sample only through its states (s_a, s_b), so

    (X beta)_i = cov_i . b_cov + sum_a V_a[s_ia] + sum_(a,b) P_ab[s_ia, s_ib] + sum_(a,b,c) Q[...]

with the per-group tables V_a = T_a b_a (K,), P_ab = T_a B_ab T_b^T (K, K) and the 3-way analogue
(T_a: shape (K, d), the locus's contrast rows): a gather per (sample, group), whatever d is.
Likewise (X^T r)_a = T_a^T R_a with R_a[s] = sum of r over samples in state s (a scatter-add),
and (X^T r)_ab = T_a^T R_ab T_b with R_ab the (K, K) table of r summed by state pair. Samples are
processed in tiles of ``tile_rows``; no (n, l, d) contrast array or (n, k, d, d) pair design exists.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from genoattn.sparse.nonref import (
    GroupEntries,
    apply_tables,
    group_entries,
    nonref_of,
    state_tables,
)

#: Group layout: contiguous runs of (number of groups, columns per group), in column order.
Blocks = list[tuple[int, int]]

#: Budget of one index tile (int64 entries), which sets the rows per tile.
TILE_ENTRIES = 1 << 22
#: Index tiles of an operator are kept between products when they take at most this many bytes.
CACHE_BYTES = 256 * 2**20


def block_group_index(blocks: Blocks, device=None) -> torch.Tensor:
    """shape (p,), int64: the group of every column of a design with layout ``blocks``."""
    out, g0 = [], 0
    for count, width in blocks:
        out.append(g0 + torch.arange(count, device=device).repeat_interleave(width))
        g0 += count
    return torch.cat(out) if out else torch.zeros(0, dtype=torch.int64, device=device)


class DenseOperator:
    """A materialised design (n, p) with the operator interface (working sets, references)."""

    def __init__(self, x: torch.Tensor, blocks: Blocks):
        self.x, self.blocks = x, [tuple(b) for b in blocks]
        self.shape, self.dtype, self.device = tuple(x.shape), x.dtype, x.device

    def matvec(self, beta: torch.Tensor) -> torch.Tensor:
        return self.x @ beta

    def rmatvec(self, r: torch.Tensor) -> torch.Tensor:
        return self.x.T @ r

    def col_sq(self) -> torch.Tensor:
        """shape (p,): the sum of squares of every column."""
        return (self.x * self.x).sum(0)

    def select(self, keep: torch.Tensor) -> DenseOperator:
        """The columns of the groups in ``keep`` (g,) bool."""
        cols = keep[block_group_index(self.blocks, keep.device)]
        new, g0 = [], 0
        for count, width in self.blocks:
            new.append((int(keep[g0 : g0 + count].sum()), width))
            g0 += count
        return DenseOperator(self.x[:, cols], new)

    def cat_rows(self, other: DenseOperator) -> DenseOperator:
        return DenseOperator(torch.cat([self.x, other.x]), self.blocks)


@dataclass(frozen=True)
class Groups:
    """Which groups a :class:`StatesOperator` holds.

    cov: shape (c,) covariate columns; main: shape (m,) loci; pairs: shape (k2, 2);
    triples: shape (k3, 3) (locus indices, int64).
    """

    cov: np.ndarray
    main: np.ndarray
    pairs: np.ndarray
    triples: np.ndarray

    @property
    def counts(self) -> tuple[int, int, int, int]:
        return len(self.cov), len(self.main), len(self.pairs), len(self.triples)

    def select(self, keep: np.ndarray) -> Groups:
        """The groups in ``keep`` (g,) bool, g = c + m + k2 + k3."""
        c, m, k2, _ = self.counts
        o = np.cumsum([0, c, m, k2])
        return Groups(
            self.cov[keep[: o[1]]],
            self.main[keep[o[1] : o[2]]],
            self.pairs[keep[o[2] : o[3]]],
            self.triples[keep[o[3] :]],
        )


def all_groups(c: int, l: int, pairs=None, triples=None) -> Groups:
    """Every covariate and main effect, plus the given pair / triple groups."""
    p2 = np.zeros((0, 2), np.int64) if pairs is None else np.asarray(pairs, np.int64)
    p3 = np.zeros((0, 3), np.int64) if triples is None else np.asarray(triples, np.int64)
    return Groups(np.arange(c), np.arange(l), p2.reshape(-1, 2), p3.reshape(-1, 3))


class StatesOperator:
    """The design of the groups ``groups`` on the samples of ``states``, never materialised.

    Args:
        states: shape (n, l), int8 (MISSING = -1), on the compute device.
        table: shape (l, K, d), float: contrast rows per (locus, state + 1), row 0 zero.
        cov: shape (n, c), float: covariates.
        groups: the groups, in column order.
        sparse: None (default): products through the non-reference entries of the states
            (``nonref.py``) when they are few and there are no triple groups; False: by tiles.
    """

    def __init__(
        self,
        states,
        table,
        cov,
        groups: Groups,
        tile_rows: int | None = None,
        cache_bytes: float = CACHE_BYTES,
        sparse: bool | None = None,
    ):
        self.states, self.table, self.cov, self.groups = states, table, cov, groups
        c, m, k2, k3 = groups.counts
        d = table.shape[2]
        self.d, self.k = d, table.shape[1]
        self.blocks: Blocks = [(c, 1), (m, d), (k2, d**2), (k3, d**3)]
        p = c + m * d + k2 * d**2 + k3 * d**3
        self.shape, self.dtype, self.device = (states.shape[0], p), table.dtype, table.device
        per_row = max(m + k2 + k3, 1) * max(d, 1)
        self.tile_rows = tile_rows or max(64, TILE_ENTRIES // per_row)
        dev = self.device
        self._cov = torch.as_tensor(groups.cov, device=dev)
        self._loci = [
            torch.as_tensor(groups.main, device=dev)[:, None],
            torch.as_tensor(groups.pairs, device=dev),
            torch.as_tensor(groups.triples, device=dev),
        ]
        l = states.shape[1]
        self._all_main = m == l and bool(np.array_equal(groups.main, np.arange(l)))
        self._cache_ok = states.shape[0] * (m + k2 + k3) * 4 <= cache_bytes
        self._cache: list | None = None
        self._cache_bytes = cache_bytes
        self.sparse = sparse
        self.nonref = nonref_of(states, self.k) if sparse is not False and k3 == 0 else None
        self._entries: GroupEntries | None = None

    def _group_entries(self) -> GroupEntries:
        if self._entries is None:
            assert self.nonref is not None
            self._entries = group_entries(self.nonref, self._loci[0][:, 0], self._loci[1])
        return self._entries

    # -- helpers -------------------------------------------------------------------------
    def _split(self, beta: torch.Tensor) -> list[torch.Tensor]:
        sizes = [cnt * w for cnt, w in self.blocks]
        return list(torch.split(beta, sizes))

    def _state_tiles(self):
        """(row slice, [states + 1 of each order's groups as int32, (nb, g, order)])."""
        n = self.shape[0]
        for i0 in range(0, n, self.tile_rows):
            rows = slice(i0, min(i0 + self.tile_rows, n))
            st = self.states[rows]
            if self._all_main:  # every locus in order: a slice, not a gather
                tiles = [(st.int() + 1)[:, :, None]]
            else:
                tiles = [st[:, self._loci[0]].int() + 1]
            yield rows, tiles + [st[:, loci].int() + 1 for loci in self._loci[1:]]

    def _tiles(self):
        """(row slice, [flat int32 index (nb, g) into each order's (g, K, .., K) tables]).

        The index tiles are kept after the first pass when they fit ``cache_bytes``: the solver
        then pays only a gather (X @ beta) and a bincount (X^T r) per iteration.
        """
        if self._cache is not None:
            yield from self._cache
            return
        keep = self._cache_ok
        out = []
        for rows, tiles in self._state_tiles():
            item = (rows, [self._flat(s) for s in tiles])
            if keep:
                out.append(item)
            yield item
        if keep:
            self._cache = out

    def _flat(self, s: torch.Tensor) -> torch.Tensor:
        """Flat index into (g, K, ..., K) tables of the (nb, g, order) state tile."""
        g, order = s.shape[1], s.shape[2]
        base = torch.arange(g, dtype=torch.int32, device=s.device) * self.k**order
        idx = base + s[:, :, 0] * self.k ** (order - 1)
        for j in range(1, order):
            idx += s[:, :, j] * self.k ** (order - 1 - j)
        return idx  # (nb, g)

    def _tables(self, coefs: list[torch.Tensor]) -> list[torch.Tensor]:
        """Per-group state tables of the coefficients: (m, K), (k2, K, K), (k3, K, K, K)."""
        t, d = self.table, self.d
        main, pair, trip = coefs
        out = [torch.einsum("akd,ad->ak", t[self._loci[0][:, 0]], main.reshape(-1, d))]
        ta, tb = t[self._loci[1][:, 0]], t[self._loci[1][:, 1]]
        out.append(torch.einsum("psu,puv,ptv->pst", ta, pair.reshape(-1, d, d), tb))
        tr = [t[self._loci[2][:, j]] for j in range(3)]
        b3 = trip.reshape(-1, d, d, d)
        # one factor at a time: a 4-operand einsum would form a (k3, K^3 d^3) intermediate
        q = torch.einsum("pqw,puvw->puvq", tr[2], b3)
        q = torch.einsum("ptv,puvq->putq", tr[1], q)
        out.append(torch.einsum("psu,putq->pstq", tr[0], q))
        return out

    # -- the operator --------------------------------------------------------------------
    def matvec(self, beta: torch.Tensor) -> torch.Tensor:
        """shape (n,): X @ beta, beta shape (p,). When at most a quarter of the groups have
        non-zero coefficients (a path's solutions, validation losses) only those are read."""
        parts = zip(self._split(beta), self.blocks, strict=True)
        nz = torch.cat([(b.reshape(cnt, w) != 0).any(1) for b, (cnt, w) in parts])
        if 4 * int(nz.sum()) <= nz.numel() and nz.numel() > 64:
            return self.select(nz).matvec(beta[nz[block_group_index(self.blocks, nz.device)]])
        b_cov, *coefs = self._split(beta)
        out = self.cov[:, self._cov] @ b_cov
        if self.nonref is not None:
            v, p, _ = self._tables(coefs)
            return apply_tables(self.nonref, self._group_entries(), v, p, out)
        tables = [tb.reshape(-1) for tb in self._tables(coefs)]
        for rows, tiles in self._tiles():
            for tab, s in zip(tables, tiles, strict=True):
                if s.shape[1]:
                    out[rows] += tab[s].sum(1)
        return out

    def rmatvec(self, r: torch.Tensor) -> torch.Tensor:
        """shape (p,): X^T r, r shape (n,)."""
        if self.nonref is not None:
            main, pair = state_tables(self.nonref, self._group_entries(), r)
            empty = r.new_zeros(len(self._loci[2]) * self.k**3)
            return self._contract([main.to(r.dtype), pair.to(r.dtype), empty], r)
        sums = [
            torch.zeros(len(loci) * self.k ** loci.shape[1], dtype=r.dtype, device=r.device)
            for loci in self._loci
        ]
        for rows, tiles in self._tiles():
            rt = r[rows]
            for acc, s in zip(sums, tiles, strict=True):
                if s.shape[1]:
                    acc.index_add_(0, s.reshape(-1), rt[:, None].expand_as(s).reshape(-1))
        return self._contract(sums, r)

    def _contract(self, sums: list[torch.Tensor], r: torch.Tensor) -> torch.Tensor:
        """shape (p,): X^T r from r summed by state: (m, K), (k2, K, K), (k3, K, K, K)."""
        t, k = self.table, self.k
        (m, _), (k2, _), (k3, _) = self.blocks[1:]
        out = [self.cov[:, self._cov].T @ r]
        out.append(torch.einsum("akd,ak->ad", t[self._loci[0][:, 0]], sums[0].view(m, k)))
        ta, tb = t[self._loci[1][:, 0]], t[self._loci[1][:, 1]]
        out.append(torch.einsum("psu,pst,ptv->puv", ta, sums[1].view(k2, k, k), tb))
        tr = [t[self._loci[2][:, j]] for j in range(3)]
        q = torch.einsum("pqw,pstq->pstw", tr[2], sums[2].view(k3, k, k, k))
        q = torch.einsum("ptv,pstw->psvw", tr[1], q)
        out.append(torch.einsum("psu,psvw->puvw", tr[0], q))
        return torch.cat([o.reshape(-1) for o in out])

    def col_sq(self) -> torch.Tensor:
        """shape (p,): the sum of squares of every column: X^T 1 of the design whose contrast
        rows and covariates are squared element-wise (an entry of a tuple column is a product
        of contrast entries, so its square is the product of their squares). Kept per operator.
        """
        if "_col_sq" not in self.__dict__:
            sq = StatesOperator(
                self.states, self.table**2, self.cov**2, self.groups, None, 0, sparse=False
            )
            self._col_sq = sq.rmatvec(self.table.new_ones(self.shape[0]))
        return self._col_sq

    def dense_bytes(self) -> int:
        n, p = self.shape
        return n * p * self.table.element_size()

    def dense(self) -> torch.Tensor:
        """shape (n, p): the materialised design (only for working sets within a budget)."""
        parts = []
        for rows, tiles in self._state_tiles():
            cols = [self.cov[rows][:, self._cov]]
            for loci, s in zip(self._loci, tiles, strict=True):
                nb, g, order = s.shape
                z = self.table[loci[:, 0][None, :], s[:, :, 0]]  # (nb, g, d)
                for j in range(1, order):
                    zj = self.table[loci[:, j][None, :], s[:, :, j]]
                    z = (z[:, :, :, None] * zj[:, :, None, :]).reshape(nb, g, self.d ** (j + 1))
                cols.append(z.reshape(nb, -1))
            parts.append(torch.cat(cols, dim=1))
        if not parts:
            return torch.zeros(self.shape, dtype=self.dtype, device=self.device)
        return torch.cat(parts)

    def select(self, keep: torch.Tensor) -> StatesOperator:
        """The operator of the groups in ``keep`` (g,) bool."""
        sub = self.groups.select(keep.cpu().numpy())
        return StatesOperator(
            self.states, self.table, self.cov, sub, None, self._cache_bytes, self.sparse
        )

    def rows(self, states: torch.Tensor, cov: torch.Tensor) -> StatesOperator:
        """The same groups on other samples."""
        return StatesOperator(
            states, self.table, cov, self.groups, None, self._cache_bytes, self.sparse
        )

    def cat_rows(self, other: StatesOperator) -> StatesOperator:
        return self.rows(torch.cat([self.states, other.states]), torch.cat([self.cov, other.cov]))


Operator = DenseOperator | StatesOperator


def as_operator(x, blocks: Blocks) -> Operator:
    """``x`` itself when it is an operator, else the dense design ``x`` (n, p) as one."""
    return DenseOperator(x, blocks) if isinstance(x, torch.Tensor) else x


def working_operator(op: Operator, keep: torch.Tensor, budget_bytes: float) -> Operator:
    """The groups in ``keep``; materialised when the (n, p_keep) design fits ``budget_bytes``.

    Working sets are small along a warm-started path, so the solver's many iterations run as
    dense matrix products, while any working set above the budget stays an operator. An operator
    on the sparse route is never materialised: its products cost O(non-reference entries).
    """
    sub = op.select(keep)
    if isinstance(sub, StatesOperator) and sub.nonref is None and sub.dense_bytes() <= budget_bytes:
        return DenseOperator(sub.dense(), sub.blocks)
    return sub

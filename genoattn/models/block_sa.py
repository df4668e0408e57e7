"""SA_lin with a block-sparse invariant A = C diag(w_V): the form the sparse fit produces.

Axis legend: b batch, l loci, s tokens (|S| + 1), k stored pairs, m max states per locus.

With one-hot entities and a cohort readout, SA_lin predicts (Ustaomeroglu & Qu 2025, Eq. 1 summed
over entities) y = sum_i A[s_i, s_i] + sum_{i != j} A[s_i, s_j]. When A is zero outside its
diagonal and k locus-pair blocks, the sum costs O(l + k) per sample:

    y = sum_i diag[t_i] + sum_{(a,b) stored} table_ab[state_a, state_b].

Each stored pair table holds A[(a,g),(b,h)] + A[(b,h),(a,g)] (both orders of the pair), so
``to_dense`` returns an A that puts the whole table in the (a, b) block and zero in (b, a). The
padding token (missing call) has diag 0 and state -1, so it contributes nothing.

Optional order-3 blocks make it the HyperAttention invariant (same paper, order-3 tensor
attention) restricted to a few locus triples: table_abc[state_a, state_b, state_c] holds the sum
over the orderings of (a, b, c) of A_ijk V_jk.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


class BlockSALin(nn.Module):
    """Cohort genetic score from a block-sparse SA_lin invariant.

    Args:
        diag: shape (s,), main-effect value of each token (entry 0, padding, must be 0).
        token_state: shape (s,), int64 local state of each token (-1 for padding).
        pairs: shape (k, 2), int64 locus indices (a, b).
        tables: shape (k, m, m), interaction table of each pair over (state_a, state_b).
        triples: shape (k3, 3), int64 locus indices (optional).
        triple_tables: shape (k3, m, m, m) (optional).
    """

    def __init__(
        self,
        diag: torch.Tensor,
        token_state: torch.Tensor,
        pairs: torch.Tensor,
        tables: torch.Tensor,
        triples: torch.Tensor | None = None,
        triple_tables: torch.Tensor | None = None,
    ):
        super().__init__()
        m = tables.shape[-1] if tables.ndim == 3 else 1
        if triples is None:
            triples = torch.zeros((0, 3), dtype=torch.int64)
            triple_tables = torch.zeros((0, m, m, m))
        self.register_buffer("triples", triples.clone().long().reshape(-1, 3))
        self.register_buffer("triple_tables", triple_tables.clone())
        self.register_buffer("diag", diag.clone())
        self.register_buffer("token_state", token_state.clone().long())
        self.register_buffer("pairs", pairs.clone().long().reshape(-1, 2))
        self.register_buffer("tables", tables.clone())

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """tokens (b, l) int64 -> (b,) genetic score."""
        y = self.diag[tokens].sum(dim=1)  # (b,)
        for loci, tables in ((self.pairs, self.tables), (self.triples, self.triple_tables)):
            k = loci.shape[0]
            if k == 0:
                continue
            st = self.token_state[tokens[:, loci]]  # (b, k, order)
            ok = (st >= 0).all(dim=-1)  # (b, k)
            idx = (
                torch.arange(k, device=tokens.device).expand(st.shape[:2]),
                *st.clamp(min=0).unbind(-1),
            )
            v = tables[idx]  # (b, k)
            y = y + torch.where(ok, v, torch.zeros_like(v)).sum(dim=1)
        return y

    def stored_pairs(self) -> np.ndarray:
        """(k, 2) the only locus pairs whose effect table can be non-zero."""
        return self.pairs.cpu().numpy()

    @torch.no_grad()
    def pair_effects(self, tok: torch.Tensor, ia, ib, freq=None) -> torch.Tensor:
        """Effect tables (len(ia), len(ib), m, m) of every pair in ia x ib (m = tok.shape[1]):
        the stored tables, transposed for a pair stored as (b, a); zero for other pairs."""
        m = tok.shape[1]
        out = torch.zeros(len(ia), len(ib), m, m)
        pos_a = {int(x): i for i, x in enumerate(ia)}
        pos_b = {int(x): i for i, x in enumerate(ib)}
        for (a, b), t in zip(self.pairs.tolist(), self.tables, strict=True):
            for x, y, tt in ((a, b, t), (b, a, t.T)):
                if x in pos_a and y in pos_b:
                    out[pos_a[x], pos_b[y]] += tt[:m, :m]
        return out

    @torch.no_grad()
    def listed_pair_effects(self, pairs: np.ndarray, m: int) -> torch.Tensor:
        """Effect tables (k, m, m) of listed pairs (k, 2), looked up: O(k), not O(k^2)."""
        stored = {
            (a, b): t[:m, :m] for (a, b), t in zip(self.pairs.tolist(), self.tables, strict=True)
        }
        out = torch.zeros(len(pairs), m, m)
        for i, (a, b) in enumerate(np.asarray(pairs).tolist()):
            if (a, b) in stored:
                out[i] += stored[(a, b)]
            if (b, a) in stored:
                out[i] += stored[(b, a)].T
        return out

    @torch.no_grad()
    def triple_effects(self) -> tuple[np.ndarray, torch.Tensor]:
        """The stored 3-way blocks: loci (k3, 3) in increasing order, and their tables
        (k3, m, m, m) with the axes permuted to that order."""
        loci = self.triples.cpu().numpy()
        order = np.argsort(loci, axis=1)
        tables = [t.permute(*o.tolist()) for t, o in zip(self.triple_tables, order, strict=True)]
        m = self.triple_tables.shape[-1]
        return np.sort(loci, axis=1), torch.stack(tables) if tables else torch.zeros(0, m, m, m)

    def to_dense(self, offsets: torch.Tensor, n_states: torch.Tensor) -> torch.Tensor:
        """Dense A (s, s) with the same predictions under full SA_lin (only for small |S|).

        offsets / n_states: shape (l,), the contract's token offsets and state counts.
        """
        s = self.diag.shape[0]
        a = torch.diag(self.diag.clone())
        for (la, lb), t in zip(self.pairs.tolist(), self.tables, strict=True):
            ka, kb = int(n_states[la]), int(n_states[lb])
            ra = int(offsets[la]) + 1
            rb = int(offsets[lb]) + 1
            a[ra : ra + ka, rb : rb + kb] += t[:ka, :kb]
        assert a.shape == (s, s)
        return a

"""Pair interaction tables read from learned parameters, and their functional-ANOVA scores.

Axis legend: a, b loci of a block, m max states per locus, s tokens.

For loci a and b the effect table is E[g_a, g_b] = A[(a,g_a),(b,g_b)] + A[(b,g_b),(a,g_a)] with
A = C diag(w) the SA_lin invariant (f(alpha, beta) w_beta summed over both orders). Its pure
interaction part is what remains after removing the grand mean and both main effects under the
cohort's genotype frequencies p_a, p_b (functional ANOVA with independent loci):

    pure = E - E p_b - p_a^T E + p_a^T E p_b,   score = sum_gh p_a(g) p_b(h) pure[g,h]^2,

the variance the pair's interaction adds to the phenotype (in trait units once scaled by y_std^2).
"""

from __future__ import annotations

import numpy as np
import torch

from genoattn.contract import token_offsets
from genoattn.errors import GenoattnError
from genoattn.models.block_sa import BlockSALin
from genoattn.models.hfa import HyperFeatureAttention
from genoattn.models.sa import SALin


def fanova_pure(e: torch.Tensor, pa: torch.Tensor, pb: torch.Tensor) -> torch.Tensor:
    """Pure interaction part of effect tables.

    e: shape (..., m, m); pa, pb: shape (..., m) state frequencies (rows sum to 1; states a locus
    lacks have frequency 0). Returns shape (..., m, m).
    """
    row = (e * pb[..., None, :]).sum(-1, keepdim=True)  # (..., m, 1): mean over h
    col = (e * pa[..., :, None]).sum(-2, keepdim=True)  # (..., 1, m): mean over g
    grand = (row * pa[..., :, None]).sum(-2, keepdim=True)  # (..., 1, 1)
    return e - row - col + grand


def fanova_pure3(
    e: torch.Tensor, pa: torch.Tensor, pb: torch.Tensor, pc: torch.Tensor
) -> torch.Tensor:
    """Pure 3-way part of tables e (..., m, m, m): centre along each axis under its frequencies.

    Centring every axis (E -> E - E p along that axis) removes the grand mean, all main effects
    and all pairwise parts at once: the functional-ANOVA projection for independent loci.
    """
    out = e - (e * pa[..., :, None, None]).sum(-3, keepdim=True)
    out = out - (out * pb[..., None, :, None]).sum(-2, keepdim=True)
    return out - (out * pc[..., None, None, :]).sum(-1, keepdim=True)


def interaction_variance3(
    e: torch.Tensor, pa: torch.Tensor, pb: torch.Tensor, pc: torch.Tensor
) -> torch.Tensor:
    """Variance of the pure 3-way part, shape (...)."""
    pure = fanova_pure3(e, pa, pb, pc)
    w = pa[..., :, None, None] * pb[..., None, :, None] * pc[..., None, None, :]
    return (w * pure**2).sum((-1, -2, -3))


def interaction_variance(e: torch.Tensor, pa: torch.Tensor, pb: torch.Tensor) -> torch.Tensor:
    """Variance of the pure interaction part, shape (...): sum p_a p_b pure^2."""
    pure = fanova_pure(e, pa, pb)
    return (pa[..., :, None] * pb[..., None, :] * pure**2).sum((-1, -2))


def state_frequencies(states: np.ndarray, n_states: np.ndarray) -> np.ndarray:
    """shape (l, m), float64: frequency of each state among observed calls (rows sum to 1)."""
    n, l = states.shape
    m = int(np.max(n_states)) if l else 1
    counts = np.zeros((l, m))
    for k in range(m):
        counts[:, k] = (np.asarray(states) == k).sum(0)
    tot = counts.sum(1, keepdims=True)
    return counts / np.where(tot > 0, tot, 1)


class PairTables:
    """Effect tables E (block_a, block_b, m, m) of any model with pairwise parameters.

    Args:
        model: the genetic model of a run (BlockSALin, SALin, linear HyperFeatureAttention).
        n_states: shape (l,) states per locus (the run's vocabulary).
    """

    def __init__(self, model: torch.nn.Module, n_states: np.ndarray):
        self.model = model
        self.n_states = np.asarray(n_states, dtype=np.int64)
        self.m = int(self.n_states.max())
        offsets = token_offsets(self.n_states)
        # tok[l, g]: token of state g at locus l, 0 (padding) where the locus has fewer states
        tok = np.zeros((len(self.n_states), self.m), dtype=np.int64)
        for g in range(self.m):
            tok[:, g] = np.where(g < self.n_states, offsets + g + 1, 0)
        self.tok = torch.as_tensor(tok)
        if isinstance(model, HyperFeatureAttention) and model.softmax:
            raise GenoattnError("export: softmax HyperFeatureAttention has no fixed pair table")
        if not isinstance(model, (BlockSALin, SALin, HyperFeatureAttention)):
            raise GenoattnError(
                f"export: a {type(model).__name__} model has no pairwise interaction parameters "
                "to read; fit --model sa or hfa (ha exports triples with --order 3)"
            )

    @property
    def sparse_pairs(self) -> np.ndarray | None:
        """For a block-sparse model, the only pairs with a non-zero table (k, 2); else None."""
        if isinstance(self.model, BlockSALin):
            return self.model.pairs.cpu().numpy()
        return None

    def _a(self, ta: torch.Tensor, tb: torch.Tensor) -> torch.Tensor:
        """A[ta, tb] for token blocks ta (a, m) and tb (b, m) -> (a, b, m, m)."""
        mdl = self.model
        if isinstance(mdl, SALin):
            if mdl.factorised:
                wq, wk, w = mdl.factors()
                q, k = wq[ta], wk[tb] * w[tb][..., None]  # (a, m, r), (b, m, r)
                return torch.einsum("agr,bhr->abgh", q, k)
            c = mdl.C * mdl.w[None, :]
            return c[ta[:, None, :, None], tb[None, :, None, :]]
        # HyperFeatureAttention: A[x, y] = sum_h f_locus_h f_state_h v_locus_h(y) v_state_h(y)
        la, ga = mdl.token_locus[ta], mdl.token_state[ta]  # (a, m)
        lb, gb = mdl.token_locus[tb], mdl.token_state[tb]
        ql = mdl.q_locus[:, la.clamp(min=0)]  # (h, a, m, r)
        kl = mdl.k_locus[:, lb.clamp(min=0)]  # (h, b, m, r)
        f_loc = torch.einsum("hagr,hbkr->habgk", ql, kl)  # (h, a, b, m, m)
        h = torch.arange(mdl.f_state.shape[0])
        f_st = mdl.f_state[
            h[:, None, None, None, None],
            ga.clamp(min=0)[None, :, None, :, None],
            gb.clamp(min=0)[None, None, :, None, :],
        ]  # (h, a, b, m, m)
        v = mdl.v_locus[:, lb.clamp(min=0)] * mdl.v_state[h[:, None, None], gb.clamp(min=0)]
        return (f_loc * f_st * v[:, None, :, None, :]).sum(0)  # v: (h, b, m)

    @torch.no_grad()
    def block(self, ia: np.ndarray, ib: np.ndarray) -> torch.Tensor:
        """Effect tables of all pairs (ia x ib): shape (len(ia), len(ib), m, m), zero padded."""
        ta, tb = self.tok[torch.as_tensor(ia)], self.tok[torch.as_tensor(ib)]
        if isinstance(self.model, BlockSALin):
            out = torch.zeros(len(ia), len(ib), self.m, self.m)
            pos_a = {int(x): i for i, x in enumerate(ia)}
            pos_b = {int(x): i for i, x in enumerate(ib)}
            for (a, b), t in zip(self.model.pairs.tolist(), self.model.tables, strict=True):
                for x, y, tt in ((a, b, t), (b, a, t.T)):
                    if x in pos_a and y in pos_b:
                        out[pos_a[x], pos_b[y]] += tt[: self.m, : self.m]
            return out
        e = self._a(ta, tb) + self._a(tb, ta).permute(1, 0, 3, 2)
        valid = (ta > 0)[:, None, :, None] & (tb > 0)[None, :, None, :]
        return torch.where(valid, e, torch.zeros_like(e))

    @torch.no_grad()
    def pairs(self, pairs: np.ndarray) -> torch.Tensor:
        """Effect tables of listed pairs (k, 2): shape (k, m, m)."""
        if len(pairs) == 0:
            return torch.zeros(0, self.m, self.m)
        if isinstance(self.model, BlockSALin):  # look the stored tables up: O(k), not O(k^2)
            stored = {
                (a, b): t[: self.m, : self.m]
                for (a, b), t in zip(self.model.pairs.tolist(), self.model.tables, strict=True)
            }
            out = torch.zeros(len(pairs), self.m, self.m)
            for i, (a, b) in enumerate(np.asarray(pairs).tolist()):
                if (a, b) in stored:
                    out[i] += stored[(a, b)]
                if (b, a) in stored:
                    out[i] += stored[(b, a)].T
            return out
        return torch.stack([self.block(np.array([a]), np.array([b]))[0, 0] for a, b in pairs])

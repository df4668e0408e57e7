"""Pair interaction tables read from learned parameters, and their functional-ANOVA scores.

Axis legend: a, b loci of a block, m max states per locus, s tokens.

For loci a and b the effect table is E[g_a, g_b] = A[(a,g_a),(b,g_b)] + A[(b,g_b),(a,g_a)] with
A = C diag(w) the SA_lin invariant (f(alpha, beta) w_beta summed over both orders). Its pure
interaction part is what remains after removing the grand mean and both main effects under the
cohort's genotype frequencies p_a, p_b (functional ANOVA with independent loci):

    pure = E - E p_b - p_a^T E + p_a^T E p_b,   score = sum_gh p_a(g) p_b(h) pure[g,h]^2,

the variance the pair's interaction adds to the phenotype (in trait units once scaled by y_std^2).

HyperAttention (order 3, linear) sums T(s_i, s_j, s_k) = sum_rp q_r(s_i) U1_rp(s_j) U2_rp(s_k) c_p
(U_t = k_t v_t^T) over all index triples, repeated indices included. Its pair table for loci a, b
is the exact second-order part of that sum under independent loci: the six triples whose indices
are {a, b} (repeats), plus every triple (a, b, c) with c any other locus, averaged over c's state
frequencies. The 3-way table of distinct loci (a, b, c) is the sum of T over the six orders.
All tables are on the latent scale of the genetic score, before any global-epistasis link.
"""

from __future__ import annotations

import numpy as np
import torch

from genoattn.contract import token_offsets
from genoattn.errors import GenoattnError
from genoattn.models.block_sa import BlockSALin
from genoattn.models.ha import HyperAttention
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

    def __init__(
        self, model: torch.nn.Module, n_states: np.ndarray, freq: torch.Tensor | None = None
    ):
        self.model = model
        self.freq = freq  # (l, m) state frequencies: HyperAttention averages third loci over them
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
        if isinstance(model, HyperAttention):
            if model.softmax or model.causal or model.order not in (2, 3) or model.c.shape[1] != 1:
                raise GenoattnError(
                    "export: only linear, non-causal HyperAttention of order 2 or 3 has "
                    "closed-form pair tables"
                )
            if model.order == 3 and freq is None:
                raise GenoattnError("export: HyperAttention pair tables need state frequencies")
        elif not isinstance(model, (BlockSALin, SALin, HyperFeatureAttention)):
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
        if isinstance(self.model, HyperAttention):
            e = ha_pair_block(self.model, self.tok, self.freq, ia, ib)
        else:
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


def _ha_factors(model: HyperAttention):
    """q (s, r), U_t = k_t v_t^T (s, r, p) per key position, c (p,) of a linear HyperAttention."""
    u = [k[:, :, None] * v[:, None, :] for k, v in zip(model.k_tables, model.v_tables, strict=True)]
    return model.q_table, u, model.c[:, 0]


@torch.no_grad()
def ha_pair_block(
    model: HyperAttention,
    tok: torch.Tensor,
    freq: torch.Tensor | None,
    ia: np.ndarray,
    ib: np.ndarray,
) -> torch.Tensor:
    """Pair tables (len(ia), len(ib), m, m) of a linear HyperAttention of order 2 or 3.

    tok: (l, m) token of each (locus, state), 0 where the locus has fewer states; freq: (l, m).
    """
    q, u, c = _ha_factors(model)
    ta, tb = tok[torch.as_tensor(ia)], tok[torch.as_tensor(ib)]  # (A, m), (B, m)
    if model.order == 2:  # T(x, y) = q(x) . (U(y) c)
        uc = u[0] @ c  # (s, r)
        t_ab = torch.einsum("agr,bhr->abgh", q[ta], uc[tb])
        return t_ab + torch.einsum("bhr,agr->abgh", q[tb], uc[ta])
    u1, u2 = u

    def t3(x, y, z):  # T over token blocks x, y, z (..., m) broadcast to (A, B, m, m)
        return torch.einsum("...r,...rp,...rp,p->...", q[x], u1[y], u2[z], c)

    g = ta[:, None, :, None].expand(len(ia), len(ib), -1, tb.shape[1])  # (A, B, m, m)
    h = tb[None, :, None, :].expand_as(g)
    e = t3(g, g, h) + t3(g, h, g) + t3(h, g, g) + t3(h, h, g) + t3(h, g, h) + t3(g, h, h)
    # third locus c averaged over its states: sums over all loci minus loci a and b
    f = freq.to(q.dtype)
    mq = torch.einsum("lm,lmr->lr", f, q[tok])  # (l, r)
    m1 = torch.einsum("lm,lmrp->lrp", f, u1[tok])  # (l, r, p)
    m2 = torch.einsum("lm,lmrp->lrp", f, u2[tok])
    ja, jb = torch.as_tensor(ia), torch.as_tensor(ib)

    def rest(mt):  # (A, B, ...) sum over loci other than a and b
        return mt.sum(0) - mt[ja][:, None] - mt[jb][None, :]

    rq, r1, r2 = rest(mq), rest(m1), rest(m2)  # (A, B, r), (A, B, r, p) x 2
    qa, qb, u1a, u1b, u2a, u2b = q[ta], q[tb], u1[ta], u1[tb], u2[ta], u2[tb]
    e += torch.einsum("agr,bhrp,abrp,p->abgh", qa, u1b, r2, c)  # (a, b, c)
    e += torch.einsum("bhr,agrp,abrp,p->abgh", qb, u1a, r2, c)  # (b, a, c)
    e += torch.einsum("agr,abrp,bhrp,p->abgh", qa, r1, u2b, c)  # (a, c, b)
    e += torch.einsum("bhr,abrp,agrp,p->abgh", qb, r1, u2a, c)  # (b, c, a)
    e += torch.einsum("abr,agrp,bhrp,p->abgh", rq, u1a, u2b, c)  # (c, a, b)
    e += torch.einsum("abr,bhrp,agrp,p->abgh", rq, u1b, u2a, c)  # (c, b, a)
    return e


@torch.no_grad()
def ha_triple_tables(model: HyperAttention, tok: torch.Tensor, triples: np.ndarray) -> torch.Tensor:
    """3-way tables (k, m, m, m) of distinct loci (a, b, c) of an order-3 linear HyperAttention:
    T summed over the six orders of (a, b, c)."""
    import itertools

    q, (u1, u2), c = _ha_factors(model)
    t = tok[torch.as_tensor(np.asarray(triples).reshape(-1, 3))]  # (k, 3, m)
    m = t.shape[-1]
    idx = [t[:, j].reshape(-1, *([1] * j), m, *([1] * (2 - j))) for j in range(3)]
    shape = (t.shape[0], m, m, m)
    out = torch.zeros(shape, dtype=q.dtype)
    for i, j, k in itertools.permutations(range(3)):
        x, y, z = (idx[n].expand(shape) for n in (i, j, k))
        out += torch.einsum("...r,...rp,...rp,p->...", q[x], u1[y], u2[z], c)
    return out

"""HyperAttention (order n tensor attention) over entity tokens and over embeddings.

Axis legend: b batch, l entities, s vocabulary |S|+1 (token 0 = padding), r CP rank R,
p value rank P, h heads, d output/model dim, m = order - 1 key factors.

A_{i j_1..j_m} = sum_r Q[s_i, r] prod_t K_t[s_{j_t}, r];
V_{j_1..j_m} = sum_p prod_t V_t[s_{j_t}, p] c_p;
out_i = sum_{j_1..j_m} A V (the paper's order-3 A_ijk V_jk with CP-factorised C and W^V).
"""

from __future__ import annotations

import itertools

import numpy as np
import torch
from torch import Tensor, nn

from genoattn.errors import GenoattnError
from genoattn.models.kernels import hyper_attention


class HyperAttention(nn.Module):
    """Order-n HyperAttention on one-hot tokens: factor tables gathered per token.

    Args:
        vocab_size: s = |S| + 1 (row 0 = padding, contributes nothing).
        order: n >= 2 (n = 2 is SA_lin with a CP value map).
        rank: R of the CP-factorised score tensor. value_rank: P of the value tensor.
        d: output dim per entity.
        causal: entity i sees tuples with every j_t <= i. softmax: one softmax jointly over the
            (j_1..j_m) tuples (explicit l^n; short sequences only).
        init_scale: standard deviation of the initial factor-table entries.
    """

    def __init__(
        self,
        vocab_size: int,
        order: int = 3,
        rank: int = 8,
        value_rank: int = 8,
        d: int = 1,
        causal: bool = False,
        softmax: bool = False,
        init_scale: float = 0.1,
    ):
        super().__init__()
        assert order >= 2, f"order must be >= 2, got {order}"
        m, s = order - 1, vocab_size
        self.order, self.causal, self.softmax = order, causal, softmax
        self.q_table = nn.Parameter(torch.randn(s, rank) * init_scale)  # (s, r)
        self.k_tables = nn.Parameter(torch.randn(m, s, rank) * init_scale)  # (m, s, r)
        self.v_tables = nn.Parameter(torch.randn(m, s, value_rank) * init_scale)  # (m, s, p)
        self.c = nn.Parameter(torch.randn(value_rank, d) / value_rank**0.5)  # (p, d)

    def entities(self, tokens: Tensor) -> Tensor:
        """tokens (b, l) int64 -> per-entity outputs (b, l, d); O(l R P) in the linear form."""
        mask = tokens != 0  # (b, l)
        m = mask.unsqueeze(-1).to(self.q_table.dtype)  # (b, l, 1)
        q = self.q_table[tokens] * m  # (b, l, r)
        ks = [k[tokens] for k in self.k_tables]  # m x (b, l, r)
        vs = [v[tokens] * m for v in self.v_tables]  # m x (b, l, p)
        out = hyper_attention(q, ks, vs, self.c, self.causal, self.softmax, key_mask=mask)
        return out * m

    def forward(self, tokens: Tensor) -> Tensor:
        """tokens (b, l) int64 -> cohort score (b,) = sum over entities (and output dims)."""
        return self.entities(tokens).sum((1, 2))

    def invariant_sq_norm(self) -> Tensor:
        """||T||_F^2 of the invariant T[a, b_1..b_m] = sum_{r,p} Q[a,r] prod_t K_t[b_t,r]
        V_t[b_t,p] c_p (summed over output dims) over the real tokens, without forming T.

        With M_t[b, (r,p)] = K_t[b, r] V_t[b, p]: ||T||^2 = sum over (r,p), (r',p') of
        (Q^T Q)[r,r'] (c c^T)[p,p'] prod_t (M_t^T M_t)[(r,p),(r',p')]; O(s (R P)^2).
        """
        q = self.q_table[1:]  # (s-1, r)
        r, p = q.shape[1], self.c.shape[0]
        g = (q.T @ q)[:, None, :, None] * (self.c @ self.c.T)[None, :, None, :]  # (r, p, r, p)
        for k, v in zip(self.k_tables, self.v_tables, strict=True):
            m = (k[1:, :, None] * v[1:, None, :]).reshape(-1, r * p)  # (s-1, r p)
            g = g * (m.T @ m).view(r, p, r, p)
        return g.sum()

    def pair_effects(self, tok: Tensor, ia, ib, freq: Tensor | None = None) -> Tensor:
        """Effect tables (A, B, m, m) of every pair in ia x ib: the exact second-order part of
        the linear form under independent loci (``ha_pair_block``); order 3 needs ``freq``."""
        if self.softmax or self.causal or self.order not in (2, 3) or self.c.shape[1] != 1:
            raise GenoattnError(
                "export: only linear, non-causal HyperAttention of order 2 or 3 has "
                "closed-form pair tables"
            )
        if self.order == 3 and freq is None:
            raise GenoattnError("export: HyperAttention pair tables need state frequencies")
        return ha_pair_block(self, tok, freq, np.asarray(ia), np.asarray(ib))

    def triple_block(self, tok: Tensor, triples: np.ndarray) -> Tensor:
        """3-way tables (k, m, m, m) of distinct locus triples (k, 3) (``ha_triple_tables``),
        on the latent scale; ``tok`` as in :meth:`pair_effects`."""
        if self.softmax or self.causal or self.order != 3 or self.c.shape[1] != 1:
            raise GenoattnError(
                "export --order 3: only a linear, non-causal HyperAttention of order 3 has "
                "closed-form 3-way tables"
            )
        return ha_triple_tables(self, tok, triples)


class HyperAttentionBlock(nn.Module):
    """HyperAttention on embeddings (b, l, d_model) -> (b, l, d_model), for language models.

    Per head: q = x Wq (rank R), keys k_t = x Wk_t (rank R), value factors v_t = x Wv_t (rank P),
    a per-head value map c_h (P, d_model / heads); heads are concatenated and projected back.
    The softmax form scales q by R^-1/2 and costs O(l^order) per head.
    """

    def __init__(
        self,
        d_model: int,
        heads: int,
        rank: int,
        value_rank: int,
        order: int = 3,
        causal: bool = True,
        softmax: bool = True,
    ):
        super().__init__()
        assert d_model % heads == 0, f"d_model {d_model} not divisible by heads {heads}"
        assert order >= 2, f"order must be >= 2, got {order}"
        self.heads, self.rank, self.value_rank = heads, rank, value_rank
        self.m, self.causal, self.softmax = order - 1, causal, softmax
        self.d_head = d_model // heads
        self.q_proj = nn.Linear(d_model, heads * rank, bias=False)
        self.k_proj = nn.Linear(d_model, self.m * heads * rank, bias=False)
        self.v_proj = nn.Linear(d_model, self.m * heads * value_rank, bias=False)
        self.c = nn.Parameter(torch.randn(heads, value_rank, self.d_head) / value_rank**0.5)
        self.out = nn.Linear(d_model, d_model, bias=False)

    def _split(self, t: Tensor, width: int) -> list[Tensor]:
        """(b, l, m * h * width) -> m tensors (b, h, l, width)."""
        b, l, _ = t.shape
        return list(t.view(b, l, self.m, self.heads, width).permute(2, 0, 3, 1, 4).unbind(0))

    def forward(self, x: Tensor) -> Tensor:
        b, l, d = x.shape
        h = self.heads
        q = self.q_proj(x).view(b, l, h, self.rank).transpose(1, 2)  # (b, h, l, r)
        if self.softmax:
            q = q * self.rank**-0.5
        ks = self._split(self.k_proj(x), self.rank)  # m x (b, h, l, r)
        vs = self._split(self.v_proj(x), self.value_rank)  # m x (b, h, l, p)
        # identity value map in the kernel, then each head's own c_h
        eye = torch.eye(self.value_rank, dtype=x.dtype, device=x.device)
        y = hyper_attention(q, ks, vs, eye, self.causal, self.softmax)  # (b, h, l, p)
        y = torch.einsum("bhlp,hpe->bhle", y, self.c)  # (b, h, l, d/h)
        return self.out(y.transpose(1, 2).reshape(b, l, d))


# --- effect tables of the linear form (export) ----------------------------------------------
#
# The linear form sums T(s_i, s_j, s_k) = sum_rp q_r(s_i) U1_rp(s_j) U2_rp(s_k) c_p
# (U_t = k_t v_t^T) over all index triples, repeated indices included. Its pair table for loci
# a, b is the exact second-order part of that sum under independent loci: the six triples whose
# indices are {a, b} (repeats), plus every triple (a, b, c) with c any other locus, averaged over
# c's state frequencies. The 3-way table of distinct loci (a, b, c) is T summed over six orders.
# All tables are on the latent scale of the genetic score, before any global-epistasis link.


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

"""HyperAttention (order n tensor attention) over entity tokens and over embeddings.

Axis legend: b batch, l entities, s vocabulary |S|+1 (token 0 = padding), r CP rank R,
p value rank P, h heads, d output/model dim, m = order - 1 key factors.

A_{i j_1..j_m} = sum_r Q[s_i, r] prod_t K_t[s_{j_t}, r];
V_{j_1..j_m} = sum_p prod_t V_t[s_{j_t}, p] c_p;
out_i = sum_{j_1..j_m} A V (the paper's order-3 A_ijk V_jk with CP-factorised C and W^V).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

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

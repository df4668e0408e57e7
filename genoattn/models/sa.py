"""SA_lin over one-hot entity tokens, and a (softmax or linear) attention block for embeddings.

Axis legend: b batch, l entities, s vocabulary |S|+1 (token 0 = padding), r rank, h heads,
d model dim.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from genoattn.models.kernels import (
    linear_attention,
    sa_lin_cohort_factorised,
    sa_lin_cohort_full,
    sa_lin_entities,
    softmax_attention,
)


class SALin(nn.Module):
    """SA_lin(X) = (X C X^T) X W_V on one-hot tokens (Ustaomeroglu & Qu 2025, Eq. 1), d_v = 1.

    Entity i outputs sum_j f(s_i, s_j) w[s_j] with f(a, b) = C[a, b]; the cohort score is the
    sum over entities, y = h^T C diag(w) h for the token count vector h.

    Args:
        vocab_size: s = |S| + 1 (row 0 = padding, contributes nothing whatever its values).
        rank: None for the full C (s, s), the paper's exact representation; else C = Wq Wk^T with
            Wq, Wk of shape (s, rank).
        init_scale: standard deviation of the initial C (or Wq, Wk) entries. The value weights w
            start at one, so the initial gradient of C is not zero.
    """

    def __init__(self, vocab_size: int, rank: int | None = None, init_scale: float = 0.01):
        super().__init__()
        self.vocab_size = vocab_size
        self.rank = rank
        s = vocab_size
        if rank is None:
            self.C = nn.Parameter(torch.randn(s, s) * init_scale)  # (s, s)
        else:
            self.Wq = nn.Parameter(torch.randn(s, rank) * init_scale)  # (s, r)
            self.Wk = nn.Parameter(torch.randn(s, rank) * init_scale)  # (s, r)
        self.w = nn.Parameter(torch.ones(s))  # (s,)

    @property
    def factorised(self) -> bool:
        return self.rank is not None

    def forward(self, tokens: Tensor) -> Tensor:
        """tokens (b, l) int64 -> cohort genetic score (b,)."""
        if self.factorised:
            return sa_lin_cohort_factorised(tokens, self.Wq, self.Wk, self.w)
        return sa_lin_cohort_full(tokens, self.C, self.w)

    def entities(self, tokens: Tensor) -> Tensor:
        """tokens (b, l) int64 -> per-entity outputs (b, l, 1); padded entities output 0."""
        C = (self.Wq, self.Wk) if self.factorised else self.C
        return sa_lin_entities(tokens, C, self.w.unsqueeze(-1))

    def interaction_matrix(self) -> Tensor:
        """shape (s, s): A = C diag(w) with the padding row and column zeroed; y = h^T A h.

        Dense, so only for small vocabularies (the export of the fitted interactions).
        """
        C = self.Wq @ self.Wk.T if self.factorised else self.C
        A = C * self.w.unsqueeze(0)
        keep = torch.ones(self.vocab_size, dtype=A.dtype, device=A.device)
        keep[0] = 0.0
        return A * keep.unsqueeze(0) * keep.unsqueeze(1)

    def invariant_sq_norm(self) -> Tensor:
        """||A||_F^2 of the invariant A = C diag(w) over the real tokens, without forming A.

        Factorised: ||Wq Wk^T diag(w)||^2 = sum((Wq^T Wq) * (Wk^T diag(w^2) Wk)), O(s r^2). The
        invariant is what the cohort readout depends on, so penalising it (rather than the
        factors, which trade scale freely between Wq, Wk and w) regularises what is identified.
        """
        w = self.w[1:]
        if not self.factorised:
            return ((self.C[1:, 1:] * w) ** 2).sum()
        q, k = self.Wq[1:], self.Wk[1:]
        return ((q.T @ q) * ((k * (w * w).unsqueeze(1)).T @ k)).sum()

    def factors(self) -> tuple[Tensor, Tensor, Tensor]:
        """(Wq (s, r), Wk (s, r), w (s,)) of the factorised model."""
        if not self.factorised:
            raise ValueError("factors() needs a factorised SALin (rank is None)")
        return self.Wq, self.Wk, self.w

    def _invariant_block(self, ta: Tensor, tb: Tensor) -> Tensor:
        """A[ta, tb] for token blocks ta (a, m) and tb (b, m) -> (a, b, m, m)."""
        if self.factorised:
            wq, wk, w = self.factors()
            q, k = wq[ta], wk[tb] * w[tb][..., None]  # (a, m, r), (b, m, r)
            return torch.einsum("agr,bhr->abgh", q, k)
        c = self.C * self.w[None, :]
        return c[ta[:, None, :, None], tb[None, :, None, :]]

    @torch.no_grad()
    def pair_effects(self, tok: Tensor, ia, ib, freq: Tensor | None = None) -> Tensor:
        """Effect tables E[g, h] = A[(a,g),(b,h)] + A[(b,h),(a,g)] of every pair in ia x ib.

        tok: (l, m) token of each (locus, state), 0 where a locus has fewer states; ia, ib:
        locus indices; freq is not needed (SA_lin has no third locus). Returns (A, B, m, m).
        """
        ta, tb = tok[torch.as_tensor(ia)], tok[torch.as_tensor(ib)]
        return self._invariant_block(ta, tb) + self._invariant_block(tb, ta).permute(1, 0, 3, 2)


class SoftmaxAttentionBlock(nn.Module):
    """Multi-head attention on embeddings (b, l, d_model) -> (b, l, d_model).

    Query/key rank per head is ``rank`` (not d_model / heads) so that the parameter count can be
    matched against HyperAttentionBlock and HyperFeatureAttentionBlock. ``softmax=False`` gives
    the unnormalised linear form (SA_lin on embeddings).
    """

    def __init__(
        self, d_model: int, heads: int, rank: int, causal: bool = True, softmax: bool = True
    ):
        super().__init__()
        assert d_model % heads == 0, f"d_model {d_model} not divisible by heads {heads}"
        self.heads, self.rank, self.causal, self.softmax = heads, rank, causal, softmax
        self.d_head = d_model // heads
        self.q_proj = nn.Linear(d_model, heads * rank, bias=False)
        self.k_proj = nn.Linear(d_model, heads * rank, bias=False)
        self.v_proj = nn.Linear(d_model, d_model, bias=False)
        self.out = nn.Linear(d_model, d_model, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        b, l, d = x.shape
        h = self.heads
        q = self.q_proj(x).view(b, l, h, self.rank).transpose(1, 2)  # (b, h, l, r)
        k = self.k_proj(x).view(b, l, h, self.rank).transpose(1, 2)  # (b, h, l, r)
        v = self.v_proj(x).view(b, l, h, self.d_head).transpose(1, 2)  # (b, h, l, d/h)
        if self.softmax:
            y = softmax_attention(q * self.rank**-0.5, k, v, self.causal)
        else:
            y = linear_attention(q, k, v, self.causal)
        return self.out(y.transpose(1, 2).reshape(b, l, d))

"""HyperFeatureAttention: per-feature attention scores combined by Hadamard product.

Axis legend: b batch, l entities, s vocabulary |S|+1 (token 0 = padding), r rank, h heads,
n_loc loci, g allele-state labels, d model dim.

For genotype and sequence entities the features are the locus and the allele state:
f_h(a, b) = f_locus_h(l_a, l_b) * f_state_h(g_a, g_b), values w_h(a) = vl_h[l_a] * vs_h[g_a].
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from genoattn.errors import GenoattnError
from genoattn.models.kernels import hadamard_attention


class HyperFeatureAttention(nn.Module):
    """Locus x state HyperFeatureAttention over entity tokens, summed over heads.

    Args:
        token_locus: shape (s,), int64, locus of each token (-1 for the padding token 0).
        token_state: shape (s,), int64, state label of each token (-1 for padding).
        n_loci: number of loci. n_state_labels: number of state labels g.
        heads: h. rank: r of f_locus_h = Ql_h Kl_h^T; f_state_h is a full (g, g) matrix.
        softmax: softmax over j of the Hadamard product of the score matrices (explicit (l, l))
            instead of the linear Khatri-Rao form (O(l r g) per head).
        init_scale: standard deviation of the initial Ql, Kl and vl entries; f_state and vs start
            at one.
    """

    def __init__(
        self,
        token_locus: Tensor,
        token_state: Tensor,
        n_loci: int,
        n_state_labels: int,
        heads: int,
        rank: int,
        softmax: bool = False,
        init_scale: float = 0.1,
    ):
        super().__init__()
        assert token_locus.shape == token_state.shape and token_locus.ndim == 1
        self.register_buffer("token_locus", token_locus.long())  # (s,)
        self.register_buffer("token_state", token_state.long())  # (s,)
        self.n_state_labels, self.softmax = n_state_labels, softmax
        h, g = heads, n_state_labels
        self.q_locus = nn.Parameter(torch.randn(h, n_loci, rank) * init_scale)  # (h, n_loc, r)
        self.k_locus = nn.Parameter(torch.randn(h, n_loci, rank) * init_scale)  # (h, n_loc, r)
        self.f_state = nn.Parameter(torch.ones(h, g, g))  # (h, g, g)
        self.v_locus = nn.Parameter(torch.randn(h, n_loci) * init_scale)  # (h, n_loc)
        self.v_state = nn.Parameter(torch.ones(h, g))  # (h, g)

    def entities(self, tokens: Tensor) -> Tensor:
        """tokens (b, l) int64 -> per-entity outputs (b, l, 1), summed over heads."""
        mask = tokens != 0  # (b, l)
        m = mask.unsqueeze(1).unsqueeze(-1).to(self.q_locus.dtype)  # (b, 1, l, 1)
        loc = self.token_locus[tokens].clamp_min(0)  # (b, l)
        st = self.token_state[tokens].clamp_min(0)  # (b, l)
        q_loc = self.q_locus[:, loc].movedim(0, 1)  # (b, h, l, r)
        k_loc = self.k_locus[:, loc].movedim(0, 1) * m  # (b, h, l, r)
        # f_state_h(g_i, g_j) = e_{g_i} . F_h[:, g_j]: a rank-g feature pair
        q_st = F.one_hot(st, self.n_state_labels).to(q_loc.dtype).unsqueeze(1)  # (b, 1, l, g)
        k_st = self.f_state[:, :, st].permute(2, 0, 3, 1)  # (b, h, l, g)
        v_loc = self.v_locus[:, loc].movedim(0, 1).unsqueeze(-1) * m  # (b, h, l, 1)
        v_st = self.v_state[:, st].movedim(0, 1).unsqueeze(-1)  # (b, h, l, 1)
        out = hadamard_attention(
            [q_loc, q_st], [k_loc, k_st], [v_loc, v_st], self.softmax, key_mask=mask.unsqueeze(1)
        )  # (b, h, l, 1)
        return out.sum(1) * m.squeeze(1)

    def forward(self, tokens: Tensor) -> Tensor:
        """tokens (b, l) int64 -> cohort score (b,) = sum of the entity outputs."""
        return self.entities(tokens).sum((1, 2))

    def invariant_sq_norm(self) -> Tensor:
        """||A||_F^2 of the invariant over all (locus, state label) pairs, without forming A.

        A = sum_h L_h (x) S_h with L_h = Ql_h Kl_h^T diag(vl_h) over loci and S_h = F_h diag(vs_h)
        over state labels, so ||A||^2 = sum_{h,h'} <L_h, L_h'> <S_h, S_h'>; O(h^2 n_loc r^2).
        """
        q, k, vl = self.q_locus, self.k_locus, self.v_locus
        gq = torch.einsum("hnr,gns->hgrs", q, q)
        gk = torch.einsum("hnr,hn,gn,gns->hgrs", k, vl, vl, k)
        loc = (gq * gk).sum((-1, -2))  # (h, h)
        fs = self.f_state * self.v_state.unsqueeze(1)  # (h, g, g)
        st = torch.einsum("hab,kab->hk", fs, fs)  # (h, h)
        return (loc * st).sum()

    def _effect(self, ta: Tensor, tb: Tensor) -> Tensor:
        """A[a, b] = sum_h f_h(a, b) w_h(b) for real token index vectors ta (na,), tb (nb,)."""
        la, ga = self.token_locus[ta], self.token_state[ta]
        lb, gb = self.token_locus[tb], self.token_state[tb]
        f_loc = torch.einsum("har,hbr->hab", self.q_locus[:, la], self.k_locus[:, lb])
        f_st = self.f_state[:, ga][:, :, gb]  # (h, na, nb)
        w_b = self.v_locus[:, lb] * self.v_state[:, gb]  # (h, nb)
        return (f_loc * f_st * w_b.unsqueeze(1)).sum(0)  # (na, nb)

    def _require_linear(self) -> None:
        if self.softmax:
            raise GenoattnError(
                "interaction effects are defined for the linear HyperFeatureAttention only; "
                "the softmax form's effects depend on the whole sample"
            )

    def interaction_matrix(self) -> Tensor:
        """shape (s, s): A[a, b] = sum_h f_h(a, b) w_h(b), padding row/column 0; y = h^T A h."""
        self._require_linear()
        s = self.token_locus.shape[0]
        real = torch.arange(1, s, device=self.token_locus.device)
        A = self.q_locus.new_zeros(s, s)
        A[1:, 1:] = self._effect(real, real)
        return A

    def pair_effect(self, la: int, lb: int) -> Tensor:
        """shape (n_states(la), n_states(lb)): E[g, g'] = A[a, b] + A[b, a], the contribution to
        the cohort score of locus ``la`` in state g together with locus ``lb`` in state g'.

        Exact from the parameters (linear form), rows/columns in state-code order.
        """
        self._require_linear()
        if la == lb:
            raise ValueError("pair_effect needs two different loci")
        ta = self._locus_tokens(la)
        tb = self._locus_tokens(lb)
        return self._effect(ta, tb) + self._effect(tb, ta).T

    def _invariant_block(self, ta: Tensor, tb: Tensor) -> Tensor:
        """A[ta, tb] = sum_h f_locus_h f_state_h v_locus_h(y) v_state_h(y) for token blocks
        ta (a, m), tb (b, m) -> (a, b, m, m); padding tokens read locus/state 0 (masked later)."""
        la, ga = self.token_locus[ta], self.token_state[ta]  # (a, m)
        lb, gb = self.token_locus[tb], self.token_state[tb]
        ql = self.q_locus[:, la.clamp(min=0)]  # (h, a, m, r)
        kl = self.k_locus[:, lb.clamp(min=0)]  # (h, b, m, r)
        f_loc = torch.einsum("hagr,hbkr->habgk", ql, kl)  # (h, a, b, m, m)
        h = torch.arange(self.f_state.shape[0])
        f_st = self.f_state[
            h[:, None, None, None, None],
            ga.clamp(min=0)[None, :, None, :, None],
            gb.clamp(min=0)[None, None, :, None, :],
        ]  # (h, a, b, m, m)
        v = self.v_locus[:, lb.clamp(min=0)] * self.v_state[h[:, None, None], gb.clamp(min=0)]
        return (f_loc * f_st * v[:, None, :, None, :]).sum(0)  # v: (h, b, m)

    @torch.no_grad()
    def pair_effects(self, tok: Tensor, ia, ib, freq: Tensor | None = None) -> Tensor:
        """Effect tables (A, B, m, m) of every pair in ia x ib (see ``SALin.pair_effects``);
        the linear form only."""
        if self.softmax:
            raise GenoattnError("export: softmax HyperFeatureAttention has no fixed pair table")
        ta, tb = tok[torch.as_tensor(ia)], tok[torch.as_tensor(ib)]
        return self._invariant_block(ta, tb) + self._invariant_block(tb, ta).permute(1, 0, 3, 2)

    def _locus_tokens(self, locus: int) -> Tensor:
        """Token indices of a locus, ordered by state code."""
        idx = torch.nonzero(self.token_locus == locus).flatten()
        return idx[torch.argsort(self.token_state[idx])]


class HyperFeatureAttentionBlock(nn.Module):
    """HyperFeatureAttention on embeddings (b, l, d_model) -> (b, l, d_model).

    Each of ``n_features`` features has its own rank-``rank`` query/key projection and a value
    projection per head; scores multiply (Hadamard), values multiply, heads are concatenated and
    projected back. The linear form has Khatri-Rao rank rank^n_features.
    """

    def __init__(
        self,
        d_model: int,
        heads: int,
        rank: int,
        n_features: int = 2,
        causal: bool = True,
        softmax: bool = True,
    ):
        super().__init__()
        assert d_model % heads == 0, f"d_model {d_model} not divisible by heads {heads}"
        self.heads, self.rank, self.n_features = heads, rank, n_features
        self.causal, self.softmax = causal, softmax
        self.d_head = d_model // heads
        self.q_proj = nn.Linear(d_model, n_features * heads * rank, bias=False)
        self.k_proj = nn.Linear(d_model, n_features * heads * rank, bias=False)
        self.v_proj = nn.Linear(d_model, n_features * d_model, bias=False)
        self.out = nn.Linear(d_model, d_model, bias=False)

    def _split(self, t: Tensor, width: int) -> list[Tensor]:
        """(b, l, n_f * h * width) -> n_f tensors (b, h, l, width)."""
        b, l, _ = t.shape
        t = t.view(b, l, self.n_features, self.heads, width).permute(2, 0, 3, 1, 4)
        return list(t.unbind(0))

    def forward(self, x: Tensor) -> Tensor:
        b, l, d = x.shape
        scale = self.rank**-0.5 if self.softmax else 1.0
        qs = [q * scale for q in self._split(self.q_proj(x), self.rank)]  # n_f x (b, h, l, r)
        ks = self._split(self.k_proj(x), self.rank)  # n_f x (b, h, l, r)
        vs = self._split(self.v_proj(x), self.d_head)  # n_f x (b, h, l, d/h)
        y = hadamard_attention(qs, ks, vs, self.softmax, self.causal)  # (b, h, l, d/h)
        return self.out(y.transpose(1, 2).reshape(b, l, d))

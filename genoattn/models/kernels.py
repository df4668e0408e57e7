"""Pure attention kernels: the model math, evaluated in the cheap (reordered) form.

Axis legend: b batch, l entities (loci), s vocabulary |S|+1 (token 0 = padding), r rank,
p value rank, h heads, d model/value dim, m random-feature heads.

Every kernel accepts extra leading axes (``...``) before ``l``, so heads can ride along as
``(b, h, l, r)``. Each has a naive explicit-tensor twin in ``genoattn.models.reference`` that the
tests compare against. ``key_mask`` (shape (..., l), bool, True = real entity) is only needed by
the softmax forms: a linear form ignores an entity whose key (or value) row is zero, but a softmax
gives a zero score weight exp(0).

References: Ustaomeroglu & Qu 2025 (arXiv 2506.06179) for SA_lin (Eq. 1), HyperFeatureAttention
and HyperAttention; Fu, Guo, Bai, Mei 2023 for random-feature attention.
"""

from __future__ import annotations

import string

import torch
import torch.nn.functional as F
from torch import Tensor

#: Chunk length of the causal linear-attention scan: memory O(chunk^2 + r d) per row of the batch.
CAUSAL_CHUNK = 128


def _causal_mask(l: int, device: torch.device) -> Tensor:
    """shape (l, l), bool: True where key j <= query i."""
    return torch.ones(l, l, dtype=torch.bool, device=device).tril()


def _mask_keys(k: Tensor, key_mask: Tensor | None) -> Tensor:
    return k if key_mask is None else k * key_mask.unsqueeze(-1).to(k.dtype)


def linear_attention(q: Tensor, k: Tensor, v: Tensor, causal: bool = False) -> Tensor:
    """Unnormalised linear attention (q k^T) v, evaluated as q (k^T v) in O(l r d).

    Args:
        q, k: shape (..., l, r). v: shape (..., l, d).
        causal: query i sees keys j <= i; evaluated chunk by chunk with a running (r, d) state,
            so memory stays O(CAUSAL_CHUNK^2 + r d) per batch row instead of O(l r d).
    Returns: shape (..., l, d).
    """
    if not causal:
        return q @ (k.transpose(-1, -2) @ v)  # (..., r, d) state first
    l = q.shape[-2]
    state = q.new_zeros(q.shape[:-2] + (q.shape[-1], v.shape[-1]))  # (..., r, d)
    outs = []
    for start in range(0, l, CAUSAL_CHUNK):
        qc, kc, vc = (t[..., start : start + CAUSAL_CHUNK, :] for t in (q, k, v))
        c = qc.shape[-2]
        scores = (qc @ kc.transpose(-1, -2)) * _causal_mask(c, q.device)  # (..., c, c)
        outs.append(qc @ state + scores @ vc)  # (..., c, d)
        state = state + kc.transpose(-1, -2) @ vc
    return torch.cat(outs, dim=-2)


def softmax_attention(
    q: Tensor, k: Tensor, v: Tensor, causal: bool = False, key_mask: Tensor | None = None
) -> Tensor:
    """softmax(q k^T) v with unscaled scores (the caller scales q).

    Args: q, k shape (..., l, r); v shape (..., l, d); key_mask shape (..., l) bool or None.
    Returns: shape (..., l, d). A query with no visible key gets a zero output.
    """
    scores = q @ k.transpose(-1, -2)  # (..., l, l)
    return _masked_softmax(scores, causal, key_mask) @ v


def _masked_softmax(scores: Tensor, causal: bool, key_mask: Tensor | None) -> Tensor:
    """Softmax over the last axis of (..., l, l) scores with causal / key masks; empty rows -> 0."""
    allowed = torch.ones_like(scores, dtype=torch.bool)
    if causal:
        allowed = allowed & _causal_mask(scores.shape[-1], scores.device)
    if key_mask is not None:
        allowed = allowed & key_mask.unsqueeze(-2)
    scores = scores.masked_fill(~allowed, float("-inf"))
    probs = torch.softmax(scores, dim=-1)
    return probs.nan_to_num(0.0)  # rows whose keys are all masked


def khatri_rao(factors: list[Tensor]) -> Tensor:
    """Row-wise Kronecker product: list of (..., l, r_f) -> (..., l, prod r_f).

    (q_1 (x) q_2)_i . (k_1 (x) k_2)_j = (q_1i . k_1j) (q_2i . k_2j): a Hadamard product of score
    matrices is an ordinary score matrix of the Khatri-Rao features.
    """
    out = factors[0]
    for f in factors[1:]:
        out = (out.unsqueeze(-1) * f.unsqueeze(-2)).flatten(-2)
    return out


def hadamard_attention(
    qs: list[Tensor],
    ks: list[Tensor],
    vs: list[Tensor],
    softmax: bool = False,
    causal: bool = False,
    key_mask: Tensor | None = None,
) -> Tensor:
    """HyperFeatureAttention: (Hadamard_f q_f k_f^T) @ (Hadamard_f v_f).

    Args:
        qs, ks: one (..., l, r_f) tensor per feature f. vs: one (..., l, d) tensor per feature.
        softmax: apply softmax to the Hadamard product of the score matrices (explicit (l, l)).
            Otherwise the linear form uses Khatri-Rao features of rank prod r_f: O(l prod(r_f) d).
    Returns: shape (..., l, d).
    """
    assert len(qs) == len(ks) and len(vs) >= 1
    values = vs[0]
    for v in vs[1:]:
        values = values * v  # (..., l, d)
    if not softmax:
        k_tilde = _mask_keys(khatri_rao(ks), key_mask)  # (..., l, prod r_f)
        return linear_attention(khatri_rao(qs), k_tilde, values, causal)
    scores = qs[0] @ ks[0].transpose(-1, -2)  # (..., l, l)
    for q, k in zip(qs[1:], ks[1:], strict=True):
        scores = scores * (q @ k.transpose(-1, -2))
    return _masked_softmax(scores, causal, key_mask) @ values


def hyper_attention(
    q: Tensor,
    ks: list[Tensor],
    vs: list[Tensor],
    c: Tensor,
    causal: bool = False,
    softmax: bool = False,
    key_mask: Tensor | None = None,
) -> Tensor:
    """Order n = len(ks) + 1 HyperAttention with CP-factorised scores and values.

    A_{i j_1..j_m} = sum_r q_ir prod_t ks[t]_{j_t r};
    V_{j_1..j_m} = sum_p (prod_t vs[t]_{j_t p}) c_p;
    out_i = sum_{j_1..j_m} A_{i j..} V_{j..}.

    Linear form: out_i = sum_{r,p} q_ir prod_t (sum_j ks[t]_jr vs[t]_jp) c_p, O(l r p) per order
    (the paper's O(L R^2)); causal (every j_t <= i) through prefix sums of the (r, p) statistics.
    Softmax form: one softmax jointly over all (j_1..j_m), explicit l^n scores (short contexts).

    Args:
        q: shape (..., l, r). ks: m tensors (..., l, r). vs: m tensors (..., l, p). c: shape (p, d).
        key_mask: shape (..., l) bool; a tuple (j_1..j_m) counts only if every j_t is real.
    Returns: shape (..., l, d).
    """
    assert len(ks) == len(vs) >= 1
    if key_mask is not None:
        vs = [_mask_keys(v, key_mask) for v in vs]
    if softmax:
        return _hyper_softmax(q, ks, vs, c, causal, key_mask)
    if not causal:
        stats = ks[0].transpose(-1, -2) @ vs[0]  # (..., r, p)
        for k, v in zip(ks[1:], vs[1:], strict=True):
            stats = stats * (k.transpose(-1, -2) @ v)
        return q @ (stats @ c)  # (..., l, d); (r, p) @ (p, d) first, never (..., l, p)
    stats = None  # (..., l, r, p): prefix sums over j <= i of k_j v_j^T, multiplied over t
    for k, v in zip(ks, vs, strict=True):
        s_t = torch.cumsum(k.unsqueeze(-1) * v.unsqueeze(-2), dim=-3)
        stats = s_t if stats is None else stats * s_t
    return (q.unsqueeze(-2) @ (stats @ c)).squeeze(-2)  # (..., l, d)


def _hyper_softmax(
    q: Tensor, ks: list[Tensor], vs: list[Tensor], c: Tensor, causal: bool, key_mask: Tensor | None
) -> Tensor:
    """Softmax HyperAttention: explicit scores (..., l, l^m); values contracted axis by axis."""
    m = len(ks)
    l = q.shape[-2]
    letters = string.ascii_lowercase[:m]  # one key axis per t (never 'z', 'y', 'x', 'w' for m<=22)
    ins = ",".join(["...zy"] + [f"...{a}y" for a in letters])
    scores = torch.einsum(f"{ins}->...z{letters}", q, *ks)  # (..., l, l, ..., l)
    allowed = torch.ones_like(scores, dtype=torch.bool)
    if causal:
        idx = torch.arange(l, device=q.device)
        for t in range(m):
            shape = [1] * (m + 1)
            shape[0], shape[t + 1] = l, l
            allowed = allowed & (idx.view(-1, 1) >= idx.view(1, -1)).view(shape)
    if key_mask is not None:
        for t in range(m):
            shape = list(key_mask.shape[:-1]) + [1] * (m + 1)
            shape[len(key_mask.shape) + t] = l
            allowed = allowed & key_mask.view(shape)
    flat = scores.masked_fill(~allowed, float("-inf")).flatten(-m)  # (..., l, l^m)
    probs = torch.softmax(flat, dim=-1).nan_to_num(0.0).reshape(scores.shape)
    # sum_{j..} P_{i j..} prod_t vs[t]_{j_t p}: contract the key axes one at a time (last first),
    # keeping p as a batch axis, so the (l^m, d) value tensor is never built.
    batch = vs[0].shape[:-2]
    v_last = vs[-1].reshape(batch + (1,) * (m - 1) + vs[-1].shape[-2:])  # (..., [1]*(m-1), l, p)
    acc = probs @ v_last  # (..., l, l, ..., l, p): key axis m-1 contracted
    for t in reversed(range(m - 1)):
        v = vs[t].reshape(batch + (1,) * (t + 1) + vs[t].shape[-2:])  # (..., 1, [1]*t, l, p)
        acc = (acc * v).sum(dim=-2)  # drops key axis t
    return acc @ c  # (..., l, p) @ (p, d)


def _token_mask(tokens: Tensor, dtype: torch.dtype) -> Tensor:
    """shape (b, l): 1 for real tokens, 0 for the padding token 0."""
    return (tokens != 0).to(dtype)


def sa_lin_cohort_factorised(tokens: Tensor, Wq: Tensor, Wk: Tensor, w: Tensor) -> Tensor:
    """Cohort readout of SA_lin with C = Wq Wk^T on one-hot tokens, O(l r) per sample.

    y_b = sum_i sum_j (Wq Wk^T)[t_i, t_j] w[t_j] = (sum_i Wq[t_i]) . (sum_j w[t_j] Wk[t_j]).

    Args:
        tokens: shape (b, l), int64; token 0 = padding, masked here (row 0 of the tables is unused).
        Wq, Wk: shape (s, r). w: shape (s,), scalar value weight per token.
    Returns: shape (b,).
    """
    mask = _token_mask(tokens, Wq.dtype)  # (b, l)
    # embedding_bag sums the gathered rows without materialising (b, l, r)
    q_sum = F.embedding_bag(tokens, Wq, mode="sum", per_sample_weights=mask)  # (b, r)
    k_sum = F.embedding_bag(tokens, Wk, mode="sum", per_sample_weights=w[tokens] * mask)  # (b, r)
    return (q_sum * k_sum).sum(-1)


def sa_lin_cohort_full(tokens: Tensor, C: Tensor, w: Tensor) -> Tensor:
    """Cohort readout of SA_lin with a full C on one-hot tokens: y_b = h_b^T C (h_b * w).

    h_b is the token count vector of sample b. ``embedding_bag`` sums the rows C[t_i] into
    h_b^T C without building the (b, l, s) gather or the one-hot matrix: time O(b l s), memory
    O(b s) (fine for |S| up to ~10^4 with batches of tens).

    Args: tokens shape (b, l) int64 (0 = padding); C shape (s, s); w shape (s,).
    Returns: shape (b,).
    """
    mask = _token_mask(tokens, C.dtype)  # (b, l)
    hC = F.embedding_bag(tokens, C, mode="sum", per_sample_weights=mask)  # (b, s) = h^T C
    return (torch.gather(hC, 1, tokens) * w[tokens] * mask).sum(-1)


def sa_lin_entities(tokens: Tensor, C: Tensor | tuple[Tensor, Tensor], W_V: Tensor) -> Tensor:
    """Per-entity SA_lin outputs (paper Eq. 1): out_i = sum_j x_i^T C x_j W_V^T x_j.

    Args:
        tokens: shape (b, l) int64 (0 = padding; padded rows output 0 and attend to nothing).
        C: full matrix shape (s, s), or factors (Wq, Wk) each shape (s, r) with C = Wq Wk^T.
        W_V: shape (s, d), value row per token.
    Returns: shape (b, l, d).

    Cost: factorised O(b l r d); full O(b s^2 d) time and O(b s d) memory (C times the per-sample
    value table, then a gather), never the (b, l, l) or (b, l, s) tensors.
    """
    dtype = W_V.dtype
    mask = _token_mask(tokens, dtype).unsqueeze(-1)  # (b, l, 1)
    values = W_V[tokens] * mask  # (b, l, d)
    if isinstance(C, tuple):
        Wq, Wk = C
        return linear_attention(Wq[tokens] * mask, Wk[tokens] * mask, values)
    b, _ = tokens.shape
    table = W_V.new_zeros(b, C.shape[0], W_V.shape[1])  # (b, s, d): h_b * W_V
    table = table.scatter_add(1, tokens.unsqueeze(-1).expand_as(values), values)
    ctab = torch.matmul(C, table)  # (b, s, d)
    out = torch.gather(ctab, 1, tokens.unsqueeze(-1).expand(-1, -1, W_V.shape[1]))
    return out * mask


def rfa_features(
    x: Tensor,
    w_qk: Tensor,
    query: Tensor | None = None,
    activation: str = "relu",
    mask: Tensor | None = None,
) -> Tensor:
    """Random-feature attention features (Fu, Guo, Bai, Mei 2023).

    phi_bm = (1/l) sum_j sigma(x_0^T W_m x_j) x_j, with x_0 the query token; the model
    f = sum_m <v_m, phi_m> is linear in the trainable values v (m, d).

    Args:
        x: shape (b, l, d) embeddings. w_qk: shape (m, d, d), frozen random matrices.
        query: shape (b, d), or None for the mean of the real entities of x.
        activation: ``"relu"`` (normalised by the entity count) or ``"softmax"`` over j.
        mask: shape (b, l) bool, True = real entity; None = all real.
    Returns: shape (b, m, d).
    """
    b, l, _ = x.shape
    keep = x.new_ones(b, l) if mask is None else mask.to(x.dtype)  # (b, l)
    n = keep.sum(-1).clamp_min(1.0)  # (b,)
    x0 = (x * keep.unsqueeze(-1)).sum(1) / n.unsqueeze(-1) if query is None else query  # (b, d)
    q = torch.einsum("bd,mde->bme", x0, w_qk)  # (b, m, d)
    scores = q @ x.transpose(-1, -2)  # (b, m, l)
    if activation == "relu":
        weights = torch.relu(scores) * keep.unsqueeze(1) / n.view(b, 1, 1)
    elif activation == "softmax":
        weights = _masked_softmax(scores, False, keep.bool())  # key mask (b, 1, l)
    else:
        raise ValueError(f"activation must be 'relu' or 'softmax', got {activation!r}")
    return weights @ x  # (b, m, d)

"""Naive explicit-tensor twins of ``genoattn.models.kernels``, used only by the tests.

Axis legend: b batch, l entities, s vocabulary |S|+1 (token 0 = padding), r rank, p value rank,
d value dim, m random-feature heads.

Each function builds the full objects of the paper's definition (the (l, l) or (l^n) score tensor,
the one-hot matrix X with a zero row for padding, the dense C) and contracts them directly, in
float64-friendly einsum, with no reordering. Slow and memory-hungry by design.
"""

from __future__ import annotations

import itertools
import string

import torch
from torch import Tensor


def _explicit_softmax(scores: Tensor, allowed: Tensor, dims: int) -> Tensor:
    """exp(scores - max) / sum over the last ``dims`` axes, zero where not allowed."""
    axes = tuple(range(-dims, 0))
    masked = scores.masked_fill(~allowed, float("-inf"))
    big = masked.amax(dim=axes, keepdim=True)
    big = torch.where(torch.isfinite(big), big, torch.zeros_like(big))
    e = torch.exp(masked - big)
    total = e.sum(dim=axes, keepdim=True)
    return e / torch.where(total > 0, total, torch.ones_like(total))


def _tril(l: int) -> Tensor:
    i = torch.arange(l)
    return i.view(-1, 1) >= i.view(1, -1)  # (l, l)


def one_hot(tokens: Tensor, s: int, dtype: torch.dtype = torch.float64) -> Tensor:
    """shape (b, l, s): dense one-hot rows, the zero row for the padding token 0."""
    x = torch.nn.functional.one_hot(tokens, s).to(dtype)
    return x * (tokens != 0).unsqueeze(-1).to(dtype)


def linear_attention_naive(q: Tensor, k: Tensor, v: Tensor, causal: bool = False) -> Tensor:
    """(q k^T) v with the explicit (b, l, l) score matrix."""
    scores = torch.einsum("blr,bjr->blj", q, k)
    if causal:
        scores = scores * _tril(q.shape[1]).to(scores.dtype)
    return torch.einsum("blj,bjd->bld", scores, v)


def softmax_attention_naive(
    q: Tensor, k: Tensor, v: Tensor, causal: bool = False, key_mask: Tensor | None = None
) -> Tensor:
    scores = torch.einsum("blr,bjr->blj", q, k)
    allowed = torch.ones_like(scores, dtype=torch.bool)
    if causal:
        allowed = allowed & _tril(q.shape[1])
    if key_mask is not None:
        allowed = allowed & key_mask[:, None, :]
    return torch.einsum("blj,bjd->bld", _explicit_softmax(scores, allowed, 1), v)


def hadamard_attention_naive(
    qs: list[Tensor],
    ks: list[Tensor],
    vs: list[Tensor],
    softmax: bool = False,
    causal: bool = False,
    key_mask: Tensor | None = None,
) -> Tensor:
    """Hadamard product of the per-feature (l, l) score matrices, times the product of values."""
    scores = torch.ones(qs[0].shape[0], qs[0].shape[1], ks[0].shape[1], dtype=qs[0].dtype)
    for q, k in zip(qs, ks, strict=True):
        scores = scores * torch.einsum("blr,bjr->blj", q, k)
    values = torch.stack(vs).prod(0)  # (b, l, d)
    allowed = torch.ones_like(scores, dtype=torch.bool)
    if causal:
        allowed = allowed & _tril(scores.shape[1])
    if key_mask is not None:
        allowed = allowed & key_mask[:, None, :]
    weights = _explicit_softmax(scores, allowed, 1) if softmax else scores * allowed
    return torch.einsum("blj,bjd->bld", weights, values)


def hyper_attention_naive(
    q: Tensor,
    ks: list[Tensor],
    vs: list[Tensor],
    c: Tensor,
    causal: bool = False,
    softmax: bool = False,
    key_mask: Tensor | None = None,
) -> Tensor:
    """Builds A (b, l, l^m) and V (b, l^m, d) with einsum, masks, contracts."""
    m = len(ks)
    l = q.shape[1]
    keys = string.ascii_lowercase[:m]
    A = torch.einsum(
        ",".join(["ziy"] + [f"z{a}y" for a in keys]) + f"->zi{keys}", q, *ks
    )  # (b, l, l, ..., l)
    V = torch.einsum(
        ",".join([f"z{a}y" for a in keys] + ["yx"]) + f"->z{keys}x", *vs, c
    )  # (b, l, ..., l, d)
    allowed = torch.ones(A.shape, dtype=torch.bool)
    for i, *js in itertools.product(range(l), repeat=m + 1):
        if causal and any(j > i for j in js):
            allowed[(slice(None), i, *js)] = False
    if key_mask is not None:
        for js in itertools.product(range(l), repeat=m):
            real = torch.stack([key_mask[:, j] for j in js]).all(0)  # (b,)
            allowed[(slice(None), slice(None), *js)] &= real[:, None]
    weights = _explicit_softmax(A, allowed, m) if softmax else A * allowed
    return torch.einsum(f"zi{keys},z{keys}x->zix", weights, V)


def sa_lin_cohort_full_naive(tokens: Tensor, C: Tensor, w: Tensor) -> Tensor:
    """y_b = sum_ij (X C X^T)_ij (X w)_j with the dense one-hot X."""
    X = one_hot(tokens, C.shape[0], C.dtype)
    return torch.einsum("nia,ac,njc,nje,e->n", X, C, X, X, w)


def sa_lin_cohort_factorised_naive(tokens: Tensor, Wq: Tensor, Wk: Tensor, w: Tensor) -> Tensor:
    return sa_lin_cohort_full_naive(tokens, Wq @ Wk.T, w)


def sa_lin_entities_naive(tokens: Tensor, C: Tensor | tuple[Tensor, Tensor], W_V: Tensor) -> Tensor:
    """(X C X^T) X W_V with the dense one-hot X, shape (b, l, d)."""
    if isinstance(C, tuple):
        C = C[0] @ C[1].T
    X = one_hot(tokens, C.shape[0], C.dtype)
    scores = X @ C @ X.transpose(1, 2)  # (b, l, l)
    return scores @ (X @ W_V)


def rfa_features_naive(
    x: Tensor,
    w_qk: Tensor,
    query: Tensor | None = None,
    activation: str = "relu",
    mask: Tensor | None = None,
) -> Tensor:
    """Python loops over samples, heads and entities."""
    b, l, d = x.shape
    m = w_qk.shape[0]
    out = torch.zeros(b, m, d, dtype=x.dtype)
    for bi in range(b):
        real = [j for j in range(l) if mask is None or bool(mask[bi, j])]
        x0 = torch.stack([x[bi, j] for j in real]).mean(0) if query is None else query[bi]
        for mi in range(m):
            scores = torch.stack([x0 @ w_qk[mi] @ x[bi, j] for j in real])
            if activation == "relu":
                weights = torch.clamp(scores, min=0) / len(real)
            else:
                e = torch.exp(scores - scores.max())
                weights = e / e.sum()
            for wj, j in zip(weights, real, strict=True):
                out[bi, mi] += wj * x[bi, j]
    return out

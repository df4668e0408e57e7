"""Random-feature attention (Fu, Guo, Bai, Mei 2023): frozen random query-key maps, trained values.

Axis legend: b batch (n samples when fitting), l entities, s vocabulary |S|+1 (token 0 = padding),
m heads, d embedding dim.

f(x) = sum_m <v_m, phi_m(x)>, phi_m = (1/l) sum_j sigma(x_0^T W_m x_j) x_j. Only v is trained, so
the model is linear in its parameters and ridge regression fits it in closed form.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from genoattn.models.kernels import rfa_features


class RandomFeatureAttention(nn.Module):
    """M heads of random-feature attention with trainable values v (m, d).

    Args:
        heads: m. d: embedding dim (the input dim when ``vocab_size`` is None).
        vocab_size: s for one-hot token inputs, embedded by a frozen Gaussian table (s, d) with
            entries N(0, 1/d) and a zero padding row; None for embedding inputs (b, l, d).
        mean: mean of the W_qk entries (0 or non-zero); their standard deviation is d^-1/2.
        activation: ``"relu"`` (normalised by the number of entities) or ``"softmax"``.
        seed: seeds the frozen random tables, so a model is reproducible from its arguments.
    """

    def __init__(
        self,
        heads: int,
        d: int,
        vocab_size: int | None = None,
        mean: float = 0.0,
        activation: str = "relu",
        seed: int = 0,
    ):
        super().__init__()
        assert activation in ("relu", "softmax"), f"activation {activation!r}"
        self.heads, self.d, self.activation = heads, d, activation
        g = torch.Generator().manual_seed(seed)
        w_qk = torch.randn(heads, d, d, generator=g) / d**0.5 + mean  # (m, d, d)
        self.register_buffer("w_qk", w_qk)
        if vocab_size is None:
            self.register_buffer("embedding", None)
        else:
            emb = torch.randn(vocab_size, d, generator=g) / d**0.5  # (s, d)
            emb[0] = 0.0
            self.register_buffer("embedding", emb)
        self.values = nn.Parameter(torch.zeros(heads, d))  # (m, d)

    def features(self, inputs: Tensor) -> Tensor:
        """tokens (b, l) int64, or embeddings (b, l, d) when built without a vocabulary
        -> features (b, m * d)."""
        if self.embedding is not None:
            x = self.embedding[inputs]  # (b, l, d)
            mask = inputs != 0
        else:
            x, mask = inputs, None
        phi = rfa_features(x.to(self.w_qk.dtype), self.w_qk, None, self.activation, mask)
        return phi.flatten(1)  # (b, m * d)

    def forward(self, inputs: Tensor) -> Tensor:
        """-> prediction (b,) = features @ vec(v)."""
        return self.features(inputs) @ self.values.flatten()

    @torch.no_grad()
    def fit_ridge(self, features: Tensor, y: Tensor, lam: float) -> Tensor:
        """Set the values to argmin_v ||features v - y||^2 + lam ||v||^2 and return them (m, d).

        Args: features shape (n, m * d) from ``features``; y shape (n,) (centre it first: there
        is no intercept); lam > 0. Uses the dual (n, n) system when n < m * d.
        """
        n, k = features.shape
        assert k == self.heads * self.d, f"{k} feature columns, expected {self.heads * self.d}"
        F64, y64 = features.double(), y.double().reshape(n, 1)
        if n < k:
            gram = F64 @ F64.T + lam * torch.eye(n, dtype=F64.dtype, device=F64.device)
            v = F64.T @ torch.linalg.solve(gram, y64)
        else:
            gram = F64.T @ F64 + lam * torch.eye(k, dtype=F64.dtype, device=F64.device)
            v = torch.linalg.solve(gram, F64.T @ y64)
        self.values.copy_(v.view(self.heads, self.d).to(self.values.dtype))
        return self.values.detach().clone()

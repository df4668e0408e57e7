"""Additive baseline: one weight per (locus, state) token, the reference every report compares with.

Axis legend: b batch, l entities, s vocabulary |S|+1 (token 0 = padding).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


class Additive(nn.Module):
    """y_b = sum_i w[t_i] over the real entities of sample b (padding token 0 adds nothing).

    Args: vocab_size: s = |S| + 1. The weights start at zero.
    """

    def __init__(self, vocab_size: int):
        super().__init__()
        self.w = nn.Parameter(torch.zeros(vocab_size))  # (s,)

    def forward(self, tokens: Tensor) -> Tensor:
        """tokens (b, l) int64 -> (b,)."""
        return (self.w[tokens] * (tokens != 0).to(self.w.dtype)).sum(-1)

    def entities(self, tokens: Tensor) -> Tensor:
        """tokens (b, l) int64 -> per-entity outputs (b, l, 1)."""
        return (self.w[tokens] * (tokens != 0).to(self.w.dtype)).unsqueeze(-1)

"""Pair interaction tables read from learned parameters, and their functional-ANOVA scores.

Axis legend: a, b loci of a block, m max states per locus, s tokens.

For loci a and b the effect table is E[g_a, g_b] = A[(a,g_a),(b,g_b)] + A[(b,g_b),(a,g_a)] with
A = C diag(w) the SA_lin invariant (f(alpha, beta) w_beta summed over both orders). Its pure
interaction part is what remains after removing the grand mean and both main effects under the
cohort's genotype frequencies p_a, p_b (functional ANOVA with independent loci):

    pure = E - E p_b - p_a^T E + p_a^T E p_b,   score = sum_gh p_a(g) p_b(h) pure[g,h]^2,

the variance the pair's interaction adds to the phenotype (in trait units once scaled by y_std^2).

Each model computes its own tables (``pair_effects(tok, ia, ib, freq)`` on SALin, BlockSALin,
HyperFeatureAttention and HyperAttention; ``triple_effects()`` on BlockSALin, ``triple_block``
on HyperAttention): this module only reads them, centres them and scores them, for pairs and
triples alike. Order k: centring the table along each of its k axes under that locus's
frequencies leaves the pure k-way part.
"""

from __future__ import annotations

import itertools

import numpy as np
import torch

from genoattn.contract import token_offsets
from genoattn.encode.qc import state_counts
from genoattn.errors import GenoattnError


def _along(p: torch.Tensor, axis: int, order: int) -> torch.Tensor:
    """Frequencies p (..., m) shaped to broadcast along table axis ``axis`` of ``order`` axes."""
    return p.reshape(*p.shape[:-1], *([1] * axis), p.shape[-1], *([1] * (order - 1 - axis)))


def fanova_pure(e: torch.Tensor, *freqs: torch.Tensor) -> torch.Tensor:
    """Pure interaction part of effect tables of any order k = len(freqs).

    e: shape (..., m, ..., m) with k table axes; freqs: k tensors (..., m) of state frequencies
    (rows sum to 1; states a locus lacks have frequency 0). Centring every axis in turn
    (E -> E - E p along it) removes the grand mean and every lower-order part at once: the
    functional-ANOVA projection for independent loci. Returns the shape of ``e``.
    """
    k, out = len(freqs), e
    for axis, p in enumerate(freqs):
        out = out - (out * _along(p, axis, k)).sum(axis - k, keepdim=True)
    return out


def interaction_variance(e: torch.Tensor, *freqs: torch.Tensor) -> torch.Tensor:
    """Variance of the pure interaction part, shape (...): sum_cells prod_t p_t * pure^2."""
    k = len(freqs)
    w = _along(freqs[0], 0, k)
    for axis, p in enumerate(freqs[1:], start=1):
        w = w * _along(p, axis, k)
    return (w * fanova_pure(e, *freqs) ** 2).sum(tuple(range(-k, 0)))


def state_frequencies(states: np.ndarray, n_states: np.ndarray) -> np.ndarray:
    """shape (l, m), float64: frequency of each state among observed calls (rows sum to 1)."""
    counts = state_counts(states, n_states)
    tot = counts.sum(1, keepdims=True)
    return counts / np.where(tot > 0, tot, 1)


def token_table(n_states: np.ndarray) -> torch.Tensor:
    """(l, m) int64: token of state g at locus l, 0 (padding) where the locus has fewer states."""
    n_states = np.asarray(n_states, dtype=np.int64)
    offsets = token_offsets(n_states)
    tok = np.zeros((len(n_states), int(n_states.max(initial=1))), dtype=np.int64)
    for g in range(tok.shape[1]):
        tok[:, g] = np.where(g < n_states, offsets + g + 1, 0)
    return torch.as_tensor(tok)


def _chunks(items, size: int):
    """Consecutive arrays (<= size, ...) of an iterator's items, never all of them at once."""
    while chunk := list(itertools.islice(items, size)):
        yield np.array(chunk, dtype=np.int64)


@torch.no_grad()
def model_triples(
    model: torch.nn.Module, n_states: np.ndarray, freq: torch.Tensor, keep: int, block: int = 256
) -> tuple[np.ndarray, torch.Tensor | None]:
    """The 3-way tables a model supplies: its stored blocks (``triple_effects()``), or, for a
    model with 3-way terms between every locus triple (``triple_block(tok, triples)``: sgd
    HyperAttention of order 3), the ``keep`` triples of largest pure 3-way variance among all
    l choose 3, scored ``block`` triples at a time. Returns loci (k, 3), tables (k, m, m, m)."""
    stored = getattr(model, "triple_effects", None)
    if stored is not None:
        return stored()
    dense = getattr(model, "triple_block", None)
    if dense is None:
        return np.zeros((0, 3), dtype=np.int64), None
    tok = token_table(n_states)
    every = itertools.combinations(range(len(tok)), 3)  # lazily: l choose 3 can be huge
    loci, tables = np.zeros((0, 3), dtype=np.int64), None
    scores = torch.zeros(0, dtype=torch.float64)
    for t in _chunks(every, block):  # (<= block, 3)
        ok = [(tok[t[:, j]] > 0).to(freq.dtype) for j in range(3)]  # (k, m) real states
        e = dense(tok, t).to(freq.dtype) * ok[0][:, :, None, None]
        e = e * ok[1][:, None, :, None] * ok[2][:, None, None, :]
        s = interaction_variance(e, *(freq[t[:, j]] for j in range(3))).double()
        loci = np.concatenate([loci, t])
        tables = e if tables is None else torch.cat([tables, e])
        scores = torch.cat([scores, s])
        top = torch.argsort(scores, descending=True, stable=True)[:keep]
        loci, tables, scores = loci[top.numpy()], tables[top], scores[top]
    return loci, tables


class PairTables:
    """Effect tables E (block_a, block_b, m, m) of any model with pairwise parameters.

    Args:
        model: the genetic model of a run; it supplies ``pair_effects(tok, ia, ib, freq)``
            (and, when block-sparse, ``stored_pairs()`` and ``listed_pair_effects(pairs, m)``).
        n_states: shape (l,) states per locus (the run's vocabulary).
        freq: (l, m) state frequencies (HyperAttention averages third loci over them).
    """

    def __init__(
        self, model: torch.nn.Module, n_states: np.ndarray, freq: torch.Tensor | None = None
    ):
        if not callable(getattr(model, "pair_effects", None)):
            raise GenoattnError(
                f"export: a {type(model).__name__} model has no pairwise interaction parameters "
                "to read; fit --model sa or hfa (ha exports triples with --order 3)"
            )
        self.model, self.freq = model, freq
        self.n_states = np.asarray(n_states, dtype=np.int64)
        self.m = int(self.n_states.max())
        self.tok = token_table(self.n_states)

    @property
    def sparse_pairs(self) -> np.ndarray | None:
        """For a block-sparse model, the only pairs with a non-zero table (k, 2); else None."""
        stored = getattr(self.model, "stored_pairs", None)
        return stored() if stored is not None else None

    @torch.no_grad()
    def block(self, ia: np.ndarray, ib: np.ndarray) -> torch.Tensor:
        """Effect tables of all pairs (ia x ib): shape (len(ia), len(ib), m, m), zero padded."""
        e = self.model.pair_effects(self.tok, ia, ib, self.freq)
        ta, tb = self.tok[torch.as_tensor(ia)], self.tok[torch.as_tensor(ib)]
        valid = (ta > 0)[:, None, :, None] & (tb > 0)[None, :, None, :]
        return torch.where(valid, e, torch.zeros_like(e))

    @torch.no_grad()
    def pairs(self, pairs: np.ndarray) -> torch.Tensor:
        """Effect tables of listed pairs (k, 2): shape (k, m, m)."""
        if len(pairs) == 0:
            return torch.zeros(0, self.m, self.m)
        listed = getattr(self.model, "listed_pair_effects", None)
        if listed is not None:
            return listed(pairs, self.m)
        return torch.stack([self.block(np.array([a]), np.array([b]))[0, 0] for a, b in pairs])

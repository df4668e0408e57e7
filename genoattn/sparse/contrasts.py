"""Per-locus contrast coding of entity tokens: the coordinates in which the SA_lin invariant is fit.

Axis legend: n samples, l loci, s tokens (|S| + 1, row 0 = padding), d contrasts per locus.

SA_lin with one-hot entities and a cohort readout predicts
    y = sum_i sum_j f(s_i, s_j) w_{s_j} = sum_i A[s_i, s_i] + sum_{i != j} A[s_i, s_j],
with A = C diag(w) (Ustaomeroglu & Qu 2025, Eq. 1 summed over entities). The diagonal of A is a
per-(locus, state) main-effect table; the block of A between loci a and b is their 3x3 (k_a x k_b)
interaction table. We fit A in an orthogonal basis: for each locus the k-1 indicator contrasts of
its non-reference states, centred and whitened on the training samples, so that

* a main-effect group (one per locus) has k-1 orthonormal columns, and
* a pair group is the row-wise Kronecker product z_a (x) z_b, whose tables are double-centred under
  the training genotype frequencies: they carry no main effect (the functional-ANOVA pure part).

A missing or unseen state has contrast vector 0, which is the mean imputation and matches the
contract's rule that a missing entity contributes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from genoattn.contract import token_offsets
from genoattn.encode.qc import state_counts


@dataclass(frozen=True)
class Contrasts:
    """Contrast vectors of every token.

    Attributes:
        table: shape (s, d), float32: z(token); row 0 (padding) and unseen states are zero.
        n_active: shape (l,), int64: contrasts actually used by each locus (k_obs - 1, may be 0).
        d: width of the table (max contrasts over loci).
        locus: shape (l, K, d), float32, K = max states + 1: the same vectors indexed by
            (locus, state + 1); row 0 (missing) is zero. Contrasts of an int8 state tile are one
            gather ``locus[a, states + 1]``, as cheap for a 21-residue locus as for a SNP.
    """

    table: np.ndarray
    n_active: np.ndarray
    d: int
    locus: np.ndarray

    def locus_features(self, tokens: np.ndarray) -> np.ndarray:
        """shape (n, l, d), float32: contrast vectors of each entity of ``tokens`` (n, l)."""
        return self.table[tokens]


def fit_contrasts(
    states: np.ndarray, n_states: np.ndarray, min_count: int = 0, eps: float = 1e-6
) -> Contrasts:
    """Build centred, whitened indicator contrasts from training samples.

    Args:
        states: shape (n, l), int8, local states of the training samples (MISSING = -1).
        n_states: shape (l,), number of states of each locus.
        min_count: states seen in fewer training samples are treated as unseen (contrast 0, the
            mean): whitening a state carried by a handful of samples gives it huge contrast
            values, whose products dominate interaction screening by chance.
    """
    n, l = states.shape
    n_states = np.asarray(n_states, dtype=np.int64)
    kmax = int(n_states.max()) if l else 1
    # counts[a, k] = training samples with state k at locus a (observed calls only)
    counts = state_counts(states, n_states).astype(np.float64)
    counts[counts < min_count] = 0
    order = np.argsort(-counts, axis=1, kind="stable")  # reference state = most common
    n_obs = (counts > 0).sum(axis=1)
    d = max(int(n_obs.max()) - 1, 1) if l else 1
    offsets = token_offsets(n_states)
    table = np.zeros((int(n_states.sum()) + 1, d), dtype=np.float32)
    called = counts.sum(axis=1)
    for a in range(l):
        m = int(n_obs[a]) - 1
        if m <= 0 or called[a] == 0:
            continue
        others = order[a, 1 : m + 1]  # non-reference observed states, by frequency
        freq = counts[a] / called[a]
        p = freq[others]  # (m,)
        # covariance of the indicator vector e_k (k in others) under the training frequencies
        cov = np.diag(p) - np.outer(p, p)
        # whitening T with T^T cov T = I (cov is positive definite when every state is observed)
        w, v = np.linalg.eigh(cov + eps * np.eye(m))
        t = v / np.sqrt(w)[None, :]
        for k in range(int(n_states[a])):
            if counts[a, k] == 0:
                continue  # unseen state: contrast 0 (mean imputation)
            e = (others == k).astype(np.float64)
            table[offsets[a] + k + 1, :m] = (e - p) @ t
    locus = np.zeros((l, kmax + 1, d), dtype=np.float32)
    for a in range(l):
        k = int(n_states[a])
        locus[a, 1 : 1 + k] = table[offsets[a] + 1 : offsets[a] + 1 + k]
    return Contrasts(table=table, n_active=np.maximum(n_obs - 1, 0), d=d, locus=locus)


def pair_features(za: torch.Tensor, zb: torch.Tensor) -> torch.Tensor:
    """Row-wise Kronecker product of two blocks of contrast vectors.

    Args:
        za: shape (n, p, da); zb: shape (n, p, db): contrasts (or products of contrasts) of the
            two sides of p tuples.
    Returns:
        shape (n, p, da*db): z_a (x) z_b, index (u, v) -> u * db + v.
    """
    n, p, _ = za.shape
    return (za[:, :, :, None] * zb[:, :, None, :]).reshape(n, p, -1)

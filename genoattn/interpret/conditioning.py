"""Local conditioning of the held-out interaction test: which loci near a tuple enter its null
and alternative models, and how they are coded (genoattn/interpret/confirm.py runs the test).

Axis legend: k tuples, n samples (held-out rows), l loci, c covariates.

Why: an untyped causal variant on the haplotype background of two nearby typed loci makes their
genotype cells differ although every causal effect is additive ("phantom epistasis"; Wood et al.
2014); other typed loci near the pair tag that haplotype and absorb it.
"""

from __future__ import annotations

import numpy as np
import torch


def local_loci(
    cohort, tuples: np.ndarray, window_kb: float, pool: np.ndarray | None = None
) -> list[np.ndarray]:
    """The local main effects to condition each tuple's test on: the loci of ``pool`` (default:
    every locus) on the chromosome of a locus of the tuple and within ``window_kb`` of it, the
    tuple's own loci excluded. Shape: k arrays of cohort locus indices.

    Why: an untyped causal variant on the haplotype background of two nearby typed loci makes
    their genotype cells differ although every causal effect is additive ("phantom epistasis");
    other typed loci near the pair tag that haplotype and absorb it.
    """
    chrom = cohort.loci["chrom"].to_numpy().astype(str)
    pos = cohort.loci["pos"].to_numpy().astype(np.float64)
    pool = np.arange(len(pos)) if pool is None else np.asarray(pool, dtype=np.int64)
    out = []
    for t in np.asarray(tuples, dtype=np.int64):
        near = np.zeros(len(pool), dtype=bool)
        for a in t:
            near |= (chrom[pool] == chrom[a]) & (np.abs(pos[pool] - pos[a]) <= window_kb * 1e3)
        out.append(np.setdiff1d(pool[near], t))
    return out


def selected_loci(genetic, n_states: np.ndarray) -> np.ndarray:
    """Loci with a non-zero main effect in a block-sparse model (its diagonal; token = offset
    + state + 1); every locus for models without a sparse diagonal."""
    from genoattn.contract import token_offsets
    from genoattn.models.block_sa import BlockSALin

    if not isinstance(genetic, BlockSALin):
        return np.arange(len(n_states))
    diag = genetic.diag.detach().cpu().numpy()
    off = token_offsets(n_states)
    on = [
        np.abs(diag[o + 1 : o + 1 + s]).max(initial=0.0) > 0
        for o, s in zip(off, n_states, strict=True)
    ]
    return np.flatnonzero(on)


def cis_tuples(cohort, tuples: np.ndarray, window_kb: float) -> np.ndarray:
    """shape (k,), bool: tuples whose loci all lie on one chromosome within ``window_kb``."""
    chrom = cohort.loci["chrom"].to_numpy().astype(str)
    pos = cohort.loci["pos"].to_numpy().astype(np.float64)
    t = np.asarray(tuples, dtype=np.int64)
    if len(t) == 0:
        return np.zeros(0, dtype=bool)
    one = (chrom[t] == chrom[t[:, :1]]).all(1)
    return one & (np.ptp(pos[t], axis=1) <= window_kb * 1e3)


def condition_sets(
    mode: str, cohort, tuples: np.ndarray, window_kb: float, genetic=None
) -> list[np.ndarray] | None:
    """The local loci each tuple's test conditions on: ``none`` (None), ``selected`` (the
    model's main-effect loci within ``window_kb`` of a locus of the tuple), ``all`` (every
    locus within the window) or ``cis`` (every locus within the window for cis tuples,
    :func:`cis_tuples`; none for the others).

    Why ``cis`` leaves other tuples alone: a phantom interaction needs one untyped variant in
    LD with every locus of the tuple, so loci on different chromosomes or farther apart than
    the window are not at risk from it, and conditioning them would only cost power.
    """
    if mode == "none":
        return None
    if mode == "cis":
        near = local_loci(cohort, tuples, window_kb)
        cis = cis_tuples(cohort, tuples, window_kb)
        return [c if k else c[:0] for c, k in zip(near, cis, strict=True)]
    pool = None if mode == "all" else selected_loci(genetic, np.asarray(cohort.n_states))
    return local_loci(cohort, tuples, window_kb, pool)


def local_width(cohort, condition: list[np.ndarray] | None) -> int:
    """Columns of the widest local design: (states - 1) class indicators per conditioning locus."""
    if not condition or not any(len(c) for c in condition):
        return 0
    n_states = np.asarray(cohort.n_states)
    return max(int((n_states[c] - 1).sum()) for c in condition)


def local_design(
    held: np.ndarray, n_states: np.ndarray, condition: list[np.ndarray], z: torch.Tensor,
    width: int,
) -> torch.Tensor:  # fmt: skip
    """shape (k, n, c + width): the shared covariates z (n, c) followed by each tuple's local
    loci as class indicators (state j > 0 of each locus; missing: all 0), zero-padded to
    ``width`` (a zero column changes neither rank nor fit).

    held: shape (n, l) int8 states of the tested samples; n_states: shape (l,)."""
    k, n = len(condition), held.shape[0]
    out = torch.zeros(k, n, z.shape[1] + width, dtype=torch.float64)
    out[..., : z.shape[1]] = z
    for t, loci in enumerate(condition):
        col = z.shape[1]
        for locus in loci:
            g = held[:, locus]
            for state in range(1, int(n_states[locus])):
                out[t, :, col] = torch.as_tensor((g == state).astype(np.float64))
                col += 1
    return out

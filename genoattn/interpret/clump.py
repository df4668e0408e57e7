"""LD clumping of a ranked list of interactions (pairs or triples), in the spirit of PLINK --clump.

Walking the list by rank, an interaction (a, b) is absorbed by an earlier *kept* one (a', b')
when its loci can be matched one-to-one to the kept loci (in either orientation; any of the six
for triples) such that each matched couple is in LD, r^2 >= ``r2``, and lies on the same
chromosome within ``window_kb``. r^2 is the squared Pearson correlation of ALT dosages over
samples called at both loci (pairwise-complete); a locus is always in LD with itself.
"""

from __future__ import annotations

from itertools import permutations

import numpy as np
import polars as pl

from genoattn.contract import MISSING, Cohort
from genoattn.errors import GenoattnError

IDX_COLS = ("idx_a", "idx_b", "idx_c")


def ld_r2(states: np.ndarray) -> np.ndarray:
    """Pairwise-complete r^2 of dosages.

    Args:
        states: shape (n, u), int8 dosage 0/1/2 or MISSING.

    Returns:
        shape (u, u), float64 r^2 (0 where a locus is constant on the shared samples; 1 on the
        diagonal).
    """
    w = (states != MISSING).astype(np.float64)
    x = np.where(states == MISSING, 0, states).astype(np.float64)
    n = w.T @ w
    sx, sy = x.T @ w, w.T @ x
    sxx, syy = (x * x).T @ w, w.T @ (x * x)
    sxy = x.T @ x
    with np.errstate(divide="ignore", invalid="ignore"):
        cov = sxy - sx * sy / n
        vx = sxx - sx * sx / n
        vy = syy - sy * sy / n
        r2 = cov * cov / (vx * vy)
    r2 = np.where(np.isfinite(r2) & (vx > 1e-12) & (vy > 1e-12), r2, 0.0)
    np.fill_diagonal(r2, 1.0)
    return np.clip(r2, 0.0, 1.0)


def clump(
    ranked: pl.DataFrame,
    cohort: Cohort,
    r2: float = 0.5,
    window_kb: float = 250.0,
    max_listed: int = 20,
) -> pl.DataFrame:
    """Clump a ranked interaction table (best first).

    Args:
        ranked: rows in rank order with cohort locus index columns idx_a, idx_b (and idx_c).
        cohort: the cohort the indices refer to (its genotypes give the LD).
        r2: LD threshold; window_kb: maximum distance of matched loci, in kb.
        max_listed: at most this many absorbed ids are listed per kept row.

    Returns:
        the kept rows (rank order) with two more columns: n_tagged (Int64, rows absorbed) and
        tagged (comma-separated ids "id_a|id_b[|id_c]" of the absorbed rows, "+N more" when cut).
    """
    if not 0.0 < r2 <= 1.0:
        raise GenoattnError(f"clump: r2 must be in (0, 1], got {r2}")
    if window_kb < 0:
        raise GenoattnError(f"clump: window_kb must be >= 0, got {window_kb}")
    cols = [c for c in IDX_COLS if c in ranked.columns]
    if len(cols) < 2:
        raise GenoattnError("clump: the table needs locus index columns idx_a and idx_b")
    idx = np.column_stack([ranked[c].to_numpy() for c in cols]).astype(np.int64)  # (k, order)
    uniq, local = np.unique(idx, return_inverse=True)
    local = local.reshape(idx.shape)
    ld = ld_r2(cohort.states[:, uniq])
    loci = cohort.loci[uniq.tolist()] if len(uniq) else cohort.loci.clear()
    chrom = loci["chrom"].to_numpy().astype(str)
    pos = loci["pos"].to_numpy().astype(np.float64)
    near = (chrom[:, None] == chrom[None, :]) & (
        np.abs(pos[:, None] - pos[None, :]) <= window_kb * 1000.0
    )
    linked = (ld >= r2) & near  # (u, u)
    ids = cohort.loci["id"].to_numpy()
    perms = [list(p) for p in permutations(range(len(cols)))]
    kept: list[int] = []
    tagged: dict[int, list[int]] = {}
    for t in range(len(idx)):
        owner = -1
        if kept:
            kl = local[kept]  # (kept, order)
            ok = np.zeros(len(kept), dtype=bool)
            for perm in perms:
                ok |= np.all(linked[kl[:, perm], local[t][None, :]], axis=1)
            hit = np.flatnonzero(ok)
            owner = kept[hit[0]] if len(hit) else -1
        if owner < 0:
            kept.append(t)
            tagged[t] = []
        else:
            tagged[owner].append(t)
    names = []
    for t in kept:
        labels = ["|".join(ids[idx[s]]) for s in tagged[t][:max_listed]]
        extra = len(tagged[t]) - max_listed
        names.append(",".join(labels + ([f"+{extra} more"] if extra > 0 else [])))
    out = ranked[kept] if kept else ranked.clear()
    return out.with_columns(
        pl.Series("n_tagged", [len(tagged[t]) for t in kept], dtype=pl.Int64),
        pl.Series("tagged", names, dtype=pl.String),
    )

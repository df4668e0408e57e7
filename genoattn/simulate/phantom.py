"""Cis pairs and untyped haplotype effects: the planted terms that test specificity against LD.

Axis legend: n samples, l loci, 2 chromosome copies.

* A **cis pair** is an interaction term whose two loci lie on one chromosome, ``1..window``
  loci apart, with r^2 below ``max_r2`` (so that the sparse fit's LD screen admits them).
* An **untyped haplotype effect** (phantom epistasis; Wood et al. 2014, de los Campos et al.
  2019) is the additive effect of a causal allele that arose on one haplotype background: it
  sits on the chromosome copies that carry allele ``x_a`` at typed locus a *and* ``x_b`` at
  nearby typed locus b. The causal site is never a column of the cohort (it is untyped: not in
  the written VCF), yet its dosage is a non-additive function of the genotypes of a and b, so a
  two-locus test of (a, b) sees an "interaction" although every causal effect is additive.
"""

from __future__ import annotations

import numpy as np

from genoattn.errors import GenoattnError


def _r2(x: np.ndarray, y: np.ndarray) -> float:
    c = np.corrcoef(x, y)[0, 1]
    return float(c * c) if np.isfinite(c) else 1.0


def choose_close_pairs(
    dosages: np.ndarray,
    chrom: np.ndarray,
    count: int,
    taken: set[int],
    window: int,
    max_r2: float,
    maf_range: tuple[float, float],
    rng: np.random.Generator,
) -> list[list[int]]:
    """``count`` pairs of loci (a < b) on one chromosome, 1 <= b - a <= ``window``, r^2 < max_r2,
    MAF of both in ``maf_range``, no locus within ``window`` of a locus in ``taken`` (updated).

    Args:
        dosages: shape (n, l) ALT dosages; chrom: shape (l,).
    """
    if count == 0:
        return []  # draws nothing: cohorts without such terms keep their random stream
    alt = dosages.mean(axis=0) / 2.0
    maf = np.minimum(alt, 1.0 - alt)
    ok = (maf >= maf_range[0]) & (maf <= maf_range[1])
    l = dosages.shape[1]
    out: list[list[int]] = []
    for a in rng.permutation(l):
        if len(out) == count:
            break
        if not ok[a] or any(abs(int(a) - t) <= window for t in taken):
            continue
        near = [b for b in range(a + 1, min(l, a + window + 1)) if ok[b] and chrom[b] == chrom[a]]
        near = [b for b in near if not any(abs(b - t) <= window for t in taken)]
        near = [b for b in near if _r2(dosages[:, a], dosages[:, b]) < max_r2]
        if near:
            b = int(rng.choice(near))
            out.append([int(a), b])
            taken.update(range(int(a), b + 1))
    if len(out) < count:
        raise GenoattnError(
            f"simulate: found {len(out)} of {count} cis / haplotype locus pairs (common, within "
            f"{window} loci, r^2 < {max_r2}); use more loci"
        )
    return out


def haplotype_dosage(haplotypes: np.ndarray, a: int, b: int) -> tuple[np.ndarray, tuple]:
    """Dosage (n,) of an untyped causal allele on the haplotype background (x_a at a, x_b at b).

    The background is the one of the four allele combinations whose frequency is nearest 0.15
    (common enough to matter, rare enough that neither locus tags it alone).

    Args:
        haplotypes: shape (n, l, 2) int8 phased alleles (1 = ALT).

    Returns:
        the dosage 0/1/2 (float64) and the alleles (x_a, x_b).
    """
    ha, hb = haplotypes[:, a, :], haplotypes[:, b, :]  # (n, 2)
    best, alleles = None, (1, 1)
    for xa in (0, 1):
        for xb in (0, 1):
            f = float(((ha == xa) & (hb == xb)).mean())
            if best is None or abs(f - 0.15) < best:
                best, alleles = abs(f - 0.15), (xa, xb)
    on = (ha == alleles[0]) & (hb == alleles[1])
    return on.sum(axis=1).astype(np.float64), alleles

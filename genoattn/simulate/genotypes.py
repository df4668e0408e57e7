"""Seeded haplotypes with realistic linkage disequilibrium (LD): a Li–Stephens-style mosaic.

Axis legend: n samples, l loci, k founders, 2 haplotypes per diploid sample.

The model, in four steps (no coalescent library; every random draw comes from one
``numpy.random.Generator``):

1. **Map.** The l loci are split as evenly as possible over C chromosomes named ``"1" .. "C"``.
   Positions increase by exponential gaps (mean ``MEAN_GAP_BP``). Each interval j between adjacent
   loci of a chromosome gets a copying-switch probability
   ``lam_j = min(0.5, switch_rate * w_j)`` with ``w_j ~ Gamma(HOTSPOT_SHAPE, 1 / HOTSPOT_SHAPE)``
   (mean 1, heavy-tailed): most intervals are cold and a few are recombination hotspots, so LD
   comes in blocks separated by sharp drops.
2. **Founders.** k founder haplotypes. Each locus gets a derived-allele frequency
   ``q_j ~ Uniform(maf_min, maf_max)``; exactly ``c_j = round(q_j k)`` founders (clipped to
   ``[1, k - 1]``) carry the derived allele: the ones with the smallest latent value ``z[f, j]``,
   where each founder's ``z[f, :]`` is an AR(1) Gaussian process along the chromosome with lag-one
   correlation ``exp(-ANCESTRAL_DEPTH * lam_j)``. Founders are therefore themselves in LD, which
   decays faster than the copying LD (ancient recombination has had more time).
3. **Samples.** Each of the 2n sample haplotypes copies one founder, and at interval j switches
   with probability ``lam_j`` to a founder drawn uniformly (Li & Stephens 2003, with a uniform
   jump); every chromosome starts from a fresh founder. Each copied allele is flipped with
   probability ``miscopy_rate`` (mutation / gene conversion since the founders).
4. **Orientation.** At each locus the derived allele is ALT with probability 1/2 (else REF), so the
   ALT frequency is ``q_j`` or ``1 - q_j`` and the minor-allele frequency is close to ``q_j`` when
   ``maf_max <= 0.5``. Sample frequencies scatter around ``c_j / k`` by binomial copying noise.
   :func:`orient_alt_minor` may later re-toss this coin at chosen loci, conditioning on ALT being
   the minor allele there (the coin is independent of everything else, so this is a conditioning,
   not a distortion).

r^2 between two loci therefore decays with the number of (hot) intervals between them: high within
a copying segment (about ``1 / switch_rate`` loci), near zero across chromosomes. Phase is kept.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

MEAN_GAP_BP = 5_000
HOTSPOT_SHAPE = 0.25
ANCESTRAL_DEPTH = 5.0
_BASES = np.array(list("ACGT"))
_CHUNK_HAPLOTYPES = 256  # bounds the (haplotypes, loci) random matrices to ~20 MB at l = 20,000


@dataclass(frozen=True)
class SimulatedGenotypes:
    """Phased genotypes and their map.

    Attributes:
        haplotypes: shape (n, l, 2), int8, 1 = ALT allele; ``haplotypes.sum(-1)`` is the ALT dosage.
        chrom: shape (l,), str, chromosome name of each locus.
        pos: shape (l,), int64, 1-based position, increasing within each chromosome.
        ref, alt: shape (l,), str, single-base alleles (REF != ALT).
        derived_freq: shape (l,), float64, founder frequency ``c_j / k`` of the derived allele.
        alt_is_derived: shape (l,), bool, whether ALT is the derived allele.
        switch_prob: shape (l,), float64, ``lam_j`` of the interval before locus j (1 at the first
            locus of each chromosome).
    """

    haplotypes: np.ndarray
    chrom: np.ndarray
    pos: np.ndarray
    ref: np.ndarray
    alt: np.ndarray
    derived_freq: np.ndarray
    alt_is_derived: np.ndarray
    switch_prob: np.ndarray

    @property
    def dosages(self) -> np.ndarray:
        """shape (n, l), int8: ALT dosage 0, 1, 2."""
        return self.haplotypes[..., 0] + self.haplotypes[..., 1]


def simulate_map(
    n_loci: int, n_chrom: int, switch_rate: float, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Chromosomes, positions and switch probabilities (step 1 of the module docstring).

    Returns:
        chrom: shape (l,), str; pos: shape (l,), int64; switch_prob: shape (l,), float64 with 1.0 at
        the first locus of each chromosome (a fresh founder is drawn there).
    """
    sizes = np.full(n_chrom, n_loci // n_chrom)
    sizes[: n_loci % n_chrom] += 1
    chrom = np.repeat(np.array([str(c + 1) for c in range(n_chrom)]), sizes)
    starts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
    gaps = np.maximum(1, rng.exponential(MEAN_GAP_BP, n_loci).round()).astype(np.int64)
    pos = np.empty(n_loci, dtype=np.int64)
    weights = rng.gamma(HOTSPOT_SHAPE, 1.0 / HOTSPOT_SHAPE, n_loci)
    switch = np.minimum(0.5, switch_rate * weights)
    for s, m in zip(starts, sizes, strict=True):
        pos[s : s + m] = np.cumsum(gaps[s : s + m])
        switch[s] = 1.0
    return chrom, pos, switch


def simulate_founders(
    derived_count: np.ndarray, switch_prob: np.ndarray, n_founders: int, rng: np.random.Generator
) -> np.ndarray:
    """Founder panel with exactly ``derived_count[j]`` derived alleles per locus (step 2).

    Args:
        derived_count: shape (l,), int, in [1, k - 1].
        switch_prob: shape (l,), float64, from :func:`simulate_map` (1 restarts the AR(1) process).
        n_founders: k.

    Returns:
        shape (k, l), int8, 1 = derived allele.
    """
    k, l = n_founders, len(derived_count)
    rho = np.exp(-ANCESTRAL_DEPTH * switch_prob)  # ~0 at chromosome starts (switch_prob = 1)
    rho[switch_prob >= 1.0] = 0.0
    eps = rng.standard_normal((k, l))
    z = np.empty((k, l))
    z[:, 0] = eps[:, 0]
    innov = np.sqrt(1.0 - rho**2)
    for j in range(1, l):  # l steps over k-vectors: cheap, the panel is small
        z[:, j] = rho[j] * z[:, j - 1] + innov[j] * eps[:, j]
    rank = np.argsort(np.argsort(z, axis=0), axis=0)  # rank of each founder within its locus
    return (rank < derived_count[None, :]).astype(np.int8)


def copy_mosaic(
    founders: np.ndarray,
    switch_prob: np.ndarray,
    n_haplotypes: int,
    miscopy_rate: float,
    rng: np.random.Generator,
) -> np.ndarray:
    """Sample haplotypes as mosaics of founders (step 3).

    Args:
        founders: shape (k, l), int8.
        switch_prob: shape (l,), float64 (1 at chromosome starts).
        n_haplotypes: number h of haplotypes to draw.

    Returns:
        shape (h, l), int8 alleles in the founders' coding.
    """
    k, l = founders.shape
    out = np.empty((n_haplotypes, l), dtype=np.int8)
    index_dtype = np.int32 if k * l < 2**31 else np.int64
    cols = np.arange(l, dtype=index_dtype)[None, :]
    flat_founders = np.ascontiguousarray(founders).ravel()
    p = switch_prob.astype(np.float32)
    for h0 in range(0, n_haplotypes, _CHUNK_HAPLOTYPES):
        h = min(_CHUNK_HAPLOTYPES, n_haplotypes - h0)
        switch = rng.random((h, l), dtype=np.float32) < p[None, :]  # column 0 always switches
        at = np.flatnonzero(switch.ravel())
        draws = rng.integers(0, k, size=len(at), dtype=np.int32).astype(index_dtype)
        # The founder copied at (i, j) is the draw made at the last switch at or before j; rows
        # start with a switch, so each draw repeats until the next switch of the flattened mask.
        which = np.repeat(draws * l, np.diff(np.append(at, h * l))).reshape(h, l)
        which += cols  # flat index founder * l + locus: one 1-D take instead of a 2-D gather
        out[h0 : h0 + h] = np.take(flat_founders, which)
    n_flip = rng.binomial(out.size, miscopy_rate)
    flat = out.reshape(-1)
    idx = rng.integers(0, out.size, size=n_flip)
    flat[idx] ^= 1
    return out


def simulate_genotypes(
    n_samples: int,
    n_loci: int,
    n_chrom: int,
    maf_min: float,
    maf_max: float,
    n_founders: int,
    switch_rate: float,
    miscopy_rate: float,
    rng: np.random.Generator,
) -> SimulatedGenotypes:
    """Diploid phased genotypes under the mosaic model of the module docstring (steps 1 to 4)."""
    chrom, pos, switch = simulate_map(n_loci, n_chrom, switch_rate, rng)
    q = rng.uniform(maf_min, maf_max, n_loci)
    count = np.clip(np.rint(q * n_founders), 1, n_founders - 1).astype(np.int64)
    founders = simulate_founders(count, switch, n_founders, rng)
    hap = copy_mosaic(founders, switch, 2 * n_samples, miscopy_rate, rng)
    alt_is_derived = rng.random(n_loci) < 0.5
    hap[:, ~alt_is_derived] ^= 1  # ALT = ancestral there
    haplotypes = np.ascontiguousarray(hap.reshape(n_samples, 2, n_loci).transpose(0, 2, 1))
    ref_i = rng.integers(0, 4, n_loci)
    alt_i = (ref_i + rng.integers(1, 4, n_loci)) % 4
    return SimulatedGenotypes(
        haplotypes=haplotypes,
        chrom=chrom,
        pos=pos,
        ref=_BASES[ref_i],
        alt=_BASES[alt_i],
        derived_freq=count / n_founders,
        alt_is_derived=alt_is_derived,
        switch_prob=switch,
    )


def orient_alt_minor(geno: SimulatedGenotypes, loci: list[int]) -> SimulatedGenotypes:
    """Swap REF and ALT at those of ``loci`` where ALT is the major allele in the sample.

    Used for planted ``product`` and ``dominance`` terms, which are defined on ALT dosages and are
    almost additive when ALT is the major allele.
    """
    alt_freq = geno.haplotypes[:, loci, :].mean(axis=(0, 2))
    flip = np.asarray(loci, dtype=np.int64)[alt_freq > 0.5]
    if len(flip) == 0:
        return geno
    hap = geno.haplotypes.copy()
    hap[:, flip, :] ^= 1
    ref, alt, derived = geno.ref.copy(), geno.alt.copy(), geno.alt_is_derived.copy()
    ref[flip], alt[flip] = geno.alt[flip], geno.ref[flip]
    derived[flip] = ~derived[flip]
    return replace(geno, haplotypes=hap, ref=ref, alt=alt, alt_is_derived=derived)

"""Planted phenotypes: additive background, interaction terms of three kinds, covariates, noise.

Axis legend: n samples, l loci, m loci of one term (2 for pairs, 3 for triples).

Interaction kinds, each a function of the ALT dosages ``g`` (n, m) of its loci:

* ``"product"``: the multiplicative dosage product ``prod_i g_i``;
* ``"dominance"``: ``1`` when every locus carries at least one ALT allele (``g_i > 0`` for all i);
* ``"pure"``: pure epistasis, the parity of heterozygosity ``sum_i [g_i == 1] mod 2`` (XOR for
  pairs) with every lower-order effect removed by an in-sample functional-ANOVA projection
  (:func:`fanova_residual`), so its mean within every genotype class of every locus (and, for
  triples, of every pair of loci) is exactly zero in the cohort.

Each term is standardised to unit variance in the sample and scaled to its variance share; the
noise is made orthogonal to the signal in the sample, so the liability has variance exactly 1 and
each term's share of it is exactly the requested one (on the liability scale for binary traits).
"""

from __future__ import annotations

from itertools import combinations

import numpy as np

from genoattn.errors import GenoattnError

KINDS: tuple[str, ...] = ("product", "dominance", "pure")


def standardise(x: np.ndarray, variance: float) -> np.ndarray:
    """Shape (n,) float64: ``x`` centred and scaled to (population) variance ``variance``."""
    x = np.asarray(x, dtype=np.float64)
    sd = x.std()
    if sd < 1e-12:
        raise GenoattnError("a planted term is constant in the sample; use more samples or loci")
    return (x - x.mean()) / sd * np.sqrt(variance)


def cell_indicators(g: np.ndarray) -> np.ndarray:
    """One-hot of the genotype cells of loci ``g`` (n, m) -> (n, c), c = observed cells (c<=3^m).

    With m = 0 it is the intercept column.
    """
    n, m = g.shape
    cell = (g.astype(np.int64) * 3 ** np.arange(m)[None, :]).sum(axis=1)
    _, inv = np.unique(cell, return_inverse=True)
    out = np.zeros((n, inv.max() + 1))
    out[np.arange(n), inv.reshape(-1)] = 1.0
    return out


def fanova_residual(f: np.ndarray, g: np.ndarray) -> np.ndarray:
    """The order-m part of ``f`` (n,) as a function of the m loci ``g`` (n, m), shape (n,) float64.

    Least-squares residual of ``f`` on the cell indicators of every proper subset of the loci
    (intercept, each locus's classes, and for m = 3 each pair's cells). Being orthogonal to every
    such indicator in the sample, its mean is zero within every lower-order cell: the empirical
    functional-ANOVA projection, i.e. weighted centering with the cohort's genotype frequencies.
    """
    m = g.shape[1]
    design = np.hstack(
        [cell_indicators(g[:, list(s)]) for r in range(m) for s in combinations(range(m), r)]
    )
    coef, *_ = np.linalg.lstsq(design, f, rcond=None)
    return f - design @ coef


def raw_term(g: np.ndarray, kind: str) -> np.ndarray:
    """Unscaled interaction ``kind`` of the ALT dosages ``g`` (n, m) of its loci: (n,) float64."""
    g = np.asarray(g)
    if kind == "product":
        return np.prod(g.astype(np.float64), axis=1)
    if kind == "dominance":
        return np.all(g > 0, axis=1).astype(np.float64)
    if kind == "pure":
        parity = ((g == 1).sum(axis=1) % 2).astype(np.float64)
        return fanova_residual(parity, g)
    raise GenoattnError(f"unknown interaction kind {kind!r}; expected one of {list(KINDS)}")


def choose_planted_loci(
    dosages: np.ndarray,
    chrom: np.ndarray,
    orders: list[int],
    min_maf: float,
    max_maf: float,
    rng: np.random.Generator,
) -> list[list[int]]:
    """Loci of each interaction term: common, distinct and far apart (not in LD with each other).

    Every chromosome is cut into equal windows, one per planted locus it receives; windows are
    handed out alternating between chromosomes, so a term's loci lie on different chromosomes when
    there are enough of them, and each locus is drawn from the central half of its window, which
    keeps any two planted loci at least half a window apart. Eligible loci have
    ``min_maf <= MAF <= max_maf``; when the central half has none, the whole window is searched, and
    when that has none either (small cohorts), its locus with the MAF nearest the range is taken.

    Args:
        dosages: shape (n, l), ALT dosages.
        chrom: shape (l,), chromosome of each locus (loci of a chromosome are contiguous).
        orders: number of loci of each term.

    Returns:
        one list of locus indices per term, in the order of ``orders``.
    """
    alt_freq = dosages.mean(axis=0) / 2.0
    maf = np.minimum(alt_freq, 1.0 - alt_freq)
    _, starts = np.unique(chrom, return_index=True)
    order_c = np.argsort(starts)
    starts = starts[order_c]
    ends = np.append(starts[1:], len(chrom))
    n_needed = sum(orders)
    n_chrom = len(starts)
    per = [n_needed // n_chrom + (c < n_needed % n_chrom) for c in range(n_chrom)]
    slots, windows = [], []  # central halves and whole windows, alternating chromosomes
    for w in range(max(per)):
        for c in range(n_chrom):
            if w < per[c]:
                size = (ends[c] - starts[c]) / per[c]
                lo = starts[c] + w * size
                slots.append((int(lo + size / 4), int(np.ceil(lo + 3 * size / 4))))
                windows.append((int(np.ceil(lo)), int(np.ceil(lo + size))))
    ok = (maf >= min_maf) & (maf <= max_maf)
    picks = []
    for (s, e), (lo, hi) in zip(slots, windows, strict=True):
        cand = np.flatnonzero(ok[s:e]) + s
        if len(cand) == 0:
            cand = np.flatnonzero(ok[lo:hi]) + lo
        if len(cand) == 0:  # small cohorts: the window's locus whose MAF is nearest the range
            off = np.maximum(min_maf - maf[lo:hi], maf[lo:hi] - max_maf)
            cand = np.flatnonzero(off == off.min()) + lo
        picks.append(int(rng.choice(cand)))
    bounds = np.cumsum([0, *orders])
    return [picks[a:b] for a, b in zip(bounds[:-1], bounds[1:], strict=True)]


def orthogonal_noise(signal: np.ndarray, variance: float, rng: np.random.Generator) -> np.ndarray:
    """Gaussian noise (n,) with mean 0, variance ``variance`` and zero sample covariance with
    ``signal`` (n,), so that ``var(signal + noise) == var(signal) + variance`` exactly."""
    e = rng.standard_normal(len(signal))
    x = np.column_stack([np.ones_like(signal), signal])
    coef, *_ = np.linalg.lstsq(x, e, rcond=None)
    return standardise(e - x @ coef, variance)


def liability_threshold(liability: np.ndarray, prevalence: float) -> np.ndarray:
    """0/1 (n,) float64: the top ``round(prevalence * n)`` liabilities are cases."""
    n = len(liability)
    n_case = int(round(prevalence * n))
    y = np.zeros(n)
    y[np.argsort(-liability, kind="stable")[:n_case]] = 1.0
    return y


def simulate_covariates(n: int, rng: np.random.Generator) -> tuple[np.ndarray, tuple[str, ...]]:
    """Covariates ``age`` (years, integer, 18..90) and ``sex`` (0/1): shape (n, 2) float64."""
    age = np.clip(np.rint(rng.normal(50.0, 12.0, n)), 18, 90)
    sex = (rng.random(n) < 0.5).astype(np.float64)
    return np.column_stack([age, sex]), ("age", "sex")

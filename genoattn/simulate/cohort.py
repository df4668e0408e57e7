"""``simulate(SimConfig) -> SimulatedCohort``: a seeded cohort with planted epistasis and its truth.

Axis legend: n samples, l loci.

Genotypes come from :mod:`genoattn.simulate.genotypes` (haplotype mosaic with LD); the phenotype
from :mod:`genoattn.simulate.phenotype`:

    liability = additive + sum(interaction terms) + covariate effects + noise,   var(liability) = 1

with the additive background spread over ``n_additive`` causal loci (effects ~ N(0, 1) on the ALT
dosage, then scaled to ``h2_additive`` in total), each planted pair scaled to ``h2_pair`` and each
triple to ``h2_triple``, covariates (age, sex) to ``h2_covariates``. A binary trait is the
liability thresholded so that a fraction ``prevalence`` of the samples are cases (coded 0/1 in the
:class:`Trait`; the written pheno.tsv uses PLINK's 1 = control, 2 = case).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import polars as pl

from genoattn.contract import Cohort, Dataset, Trait, make_loci
from genoattn.errors import GenoattnError
from genoattn.simulate.genotypes import orient_alt_minor, simulate_genotypes
from genoattn.simulate.phantom import choose_close_pairs, haplotype_dosage
from genoattn.simulate.phenotype import (
    KINDS,
    choose_planted_loci,
    fanova_residual,
    liability_threshold,
    orthogonal_noise,
    raw_term,
    simulate_covariates,
    standardise,
)

TRAIT_NAME = "trait"
ADDITIVE_GAP = 10


def _check(ok: bool, name: str, expected: str, got: Any) -> None:
    if not ok:
        raise GenoattnError(f"simulate config: {name} must be {expected}, got {got!r}")


#: Fixed schema of the truth table: one row per planted term (interactions, then additive loci).
TRUTH_SCHEMA: dict[str, pl.DataType] = {
    "term": pl.String,  # pair1, pair2, triple1, additive1, ...
    "kind": pl.String,  # product | dominance | pure | additive
    "order": pl.Int32,  # 1 (additive), 2 (pair) or 3 (triple)
    "id_a": pl.String,
    "id_b": pl.String,  # null for additive loci
    "id_c": pl.String,  # null unless order 3
    "locus_a": pl.Int64,  # 0-based locus (entity) index
    "locus_b": pl.Int64,
    "locus_c": pl.Int64,
    "variance_explained": pl.Float64,  # share of the liability's variance (which is 1)
    "variance_epistatic": pl.Float64,  # share of its order-m fANOVA part (0 for additive loci)
}


def _kinds(value: Any, name: str) -> list[str]:
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip() and v.strip() != "none"]
    value = list(value or [])
    bad = [v for v in value if v not in KINDS]
    _check(not bad, name, f"a list of kinds from {list(KINDS)}", value)
    return value


@dataclass
class SimConfig:
    """What to simulate. Defaults: 1,000 samples x 400 loci with 3 planted pairs, each detectable by
    an exhaustive 4-df interaction scan (p < 1e-6).

    n_founders, switch_rate, miscopy_rate: the haplotype model (see genoattn.simulate.genotypes).
    pairs, triples: kinds of the planted 2-way and 3-way terms (product, dominance, pure).
    triple_lower: ``"keep"``: a product or dominance triple keeps its lower-order (main and
        pairwise) projections, as the raw function of the dosages has them; ``"project"``: every
        triple is reduced to its pure 3-way part (in-sample functional-ANOVA residual), so it
        leaves no marginal or pairwise trace. A ``pure`` triple is always projected.
    h2_*: variance share of each pair / triple / all additive loci / all covariates.
    planted_maf_min, planted_maf_max: MAF range of interaction loci (parity terms need common
        alleles; product and dominance terms are mostly marginal when the counted allele is common,
        so their loci are also oriented with ALT = minor allele).
    cis_pairs: kinds of further pairs planted with both loci on one chromosome, 1..cis_window
        loci apart and r^2 < 0.2 (``phantom.py``); variance h2_pair each, truth terms cis1, ...
    haplotypes: number of untyped haplotype effects (phantom epistasis, ``phantom.py``): an
        additive causal allele on the haplotype background of two typed loci within
        cis_window, itself absent from the cohort; variance h2_haplotype each, truth rows of
        order 1, kind ``haplotype``, the two tagging loci in locus_a / locus_b.
    """

    n_samples: int = 1000
    n_loci: int = 400
    n_chrom: int = 2
    maf_min: float = 0.05
    maf_max: float = 0.5
    n_founders: int = 40
    switch_rate: float = 0.02
    miscopy_rate: float = 0.002
    n_additive: int = 10
    h2_additive: float = 0.1
    pairs: list[str] = field(default_factory=lambda: ["product", "dominance", "pure"])
    h2_pair: float = 0.15
    triples: list[str] = field(default_factory=list)
    h2_triple: float = 0.1
    triple_lower: str = "keep"
    planted_maf_min: float = 0.2
    planted_maf_max: float = 0.3
    binary: bool = False
    prevalence: float = 0.5
    covariates: bool = True
    h2_covariates: float = 0.02
    cis_pairs: list[str] = field(default_factory=list)
    cis_window: int = 20
    haplotypes: int = 0
    h2_haplotype: float = 0.05
    seed: int = 0

    def __post_init__(self):
        self.pairs = _kinds(self.pairs, "pairs")
        self.triples = _kinds(self.triples, "triples")
        self.cis_pairs = _kinds(self.cis_pairs, "cis_pairs")
        _check(self.cis_window >= 1, "cis_window", ">= 1", self.cis_window)
        _check(self.haplotypes >= 0, "haplotypes", ">= 0", self.haplotypes)
        _check(self.n_samples >= 10, "n_samples", ">= 10", self.n_samples)
        _check(self.n_chrom >= 1, "n_chrom", ">= 1", self.n_chrom)
        _check(self.n_loci >= 2 * self.n_chrom, "n_loci", ">= 2 * n_chrom", self.n_loci)
        _check(0.0 < self.maf_min <= self.maf_max <= 0.5, "maf_min, maf_max",
               "0 < maf_min <= maf_max <= 0.5", (self.maf_min, self.maf_max))  # fmt: skip
        _check(self.triple_lower in ("keep", "project"), "triple_lower", "keep or project",
               self.triple_lower)  # fmt: skip
        _check(self.n_founders >= 2, "n_founders", ">= 2", self.n_founders)
        _check(0.0 < self.switch_rate <= 0.5, "switch_rate", "in (0, 0.5]", self.switch_rate)
        _check(0.0 <= self.miscopy_rate < 0.5, "miscopy_rate", "in [0, 0.5)", self.miscopy_rate)
        _check(self.n_additive >= 0, "n_additive", ">= 0", self.n_additive)
        for name in ("h2_additive", "h2_pair", "h2_triple", "h2_covariates", "h2_haplotype"):
            v = getattr(self, name)
            _check(0.0 <= v < 1.0, name, "in [0, 1)", v)
        _check(0.0 <= self.planted_maf_min <= self.planted_maf_max <= 0.5,
               "planted_maf_min, planted_maf_max", "0 <= planted_maf_min <= planted_maf_max <= 0.5",
               (self.planted_maf_min, self.planted_maf_max))  # fmt: skip
        _check(0.0 < self.prevalence < 1.0, "prevalence", "in (0, 1)", self.prevalence)
        total = self.h2_total
        _check(total < 0.95, "sum of variance shares", "< 0.95 (room for noise)", round(total, 4))
        n_planted = 2 * len(self.pairs) + 3 * len(self.triples) + self.n_additive
        n_planted += 2 * (len(self.cis_pairs) + self.haplotypes)
        _check(n_planted <= self.n_loci // 2, "number of planted loci", f"<= n_loci / 2 = "
               f"{self.n_loci // 2}", n_planted)  # fmt: skip

    @property
    def h2_total(self) -> float:
        """Requested share of the liability's variance that is not noise."""
        return (
            (len(self.pairs) + len(self.cis_pairs)) * self.h2_pair
            + self.haplotypes * self.h2_haplotype
            + len(self.triples) * self.h2_triple
            + (self.h2_additive if self.n_additive else 0.0)
            + (self.h2_covariates if self.covariates else 0.0)
        )


@dataclass(frozen=True)
class SimulatedCohort:
    """A simulated cohort and everything needed to score a method on it.

    Attributes:
        cohort: genotypes (kind ``"genotype"``, biallelic, states = ALT dosage), loci ``snp{i}``.
        haplotypes: shape (n, l, 2), int8, phased alleles (1 = ALT).
        trait: the phenotype (and covariates ``age``, ``sex`` when simulated).
        truth: polars frame with ``TRUTH_SCHEMA``.
        genetic_value: shape (n,), float64, genotype-driven signal (additive + interactions).
        covariate_value: shape (n,), float64, the covariates' contribution (zeros if none).
        liability: shape (n,), float64, genetic + covariate value + noise; variance 1.
        components: polars frame, one float64 column per term (``additive``, ``pair1``, ...).
        config: the resolved :class:`SimConfig`.
    """

    cohort: Cohort
    haplotypes: np.ndarray
    trait: Trait
    truth: pl.DataFrame
    genetic_value: np.ndarray
    covariate_value: np.ndarray
    liability: np.ndarray
    components: pl.DataFrame
    config: SimConfig

    def dataset(self) -> Dataset:
        """The cohort and its trait as the aligned :class:`Dataset` the models consume."""
        t = self.trait
        return Dataset(
            self.cohort,
            t.values.astype(np.float32),
            t.covariates.astype(np.float32),
            t.name,
            t.binary,
            t.covariate_names,
        )


def _interaction_terms(
    dos: np.ndarray,
    ids: np.ndarray,
    kinds: list[str],
    planted: list[list[int]],
    cfg: SimConfig,
    prefix: str = "",
) -> tuple[dict[str, np.ndarray], list[tuple]]:
    """Scaled interaction components (name -> (n,) float64) and their truth rows; ``prefix``
    names the terms (``cis``: cis1, cis2, ...; default pair1, ..., triple1, ...)."""
    comps, rows = {}, []
    count = {2: 0, 3: 0}
    for kind, loci in zip(kinds, planted, strict=True):
        order = len(loci)
        h2 = cfg.h2_pair if order == 2 else cfg.h2_triple
        count[order] += 1
        name = f"{prefix or ('pair' if order == 2 else 'triple')}{count[order]}"
        g = dos[:, loci]
        raw = raw_term(g, kind)
        if order == 3 and cfg.triple_lower == "project":
            raw = fanova_residual(raw, g)
        value = standardise(raw, h2)
        comps[name] = value
        epi = float(np.var(fanova_residual(value, g)))
        padded = loci + [None] * (3 - order)
        rows.append((name, kind, order, *[None if i is None else ids[i] for i in padded],
                     *padded, h2, epi))  # fmt: skip
    return comps, rows


def _haplotype_terms(
    haplotypes: np.ndarray, dos: np.ndarray, ids: np.ndarray, pairs: list[list[int]], cfg
) -> tuple[dict[str, np.ndarray], list[tuple]]:
    """Untyped haplotype effects (name -> (n,) float64) and their truth rows (order 1, kind
    ``haplotype``; variance_epistatic: the share of the effect that is a pure interaction of
    the two tagging loci's genotypes, i.e. what a two-locus test of them can see)."""
    comps, rows = {}, []
    for j, (a, b) in enumerate(pairs, start=1):
        value = standardise(haplotype_dosage(haplotypes, a, b)[0], cfg.h2_haplotype)
        comps[f"haplotype{j}"] = value
        epi = float(np.var(fanova_residual(value, dos[:, [a, b]])))
        rows.append((f"haplotype{j}", "haplotype", 1, ids[a], ids[b], None, a, b, None,
                     cfg.h2_haplotype, epi))  # fmt: skip
    return comps, rows


def _additive_background(
    dos: np.ndarray, ids: np.ndarray, planted: list[list[int]], cfg: SimConfig, rng
) -> tuple[np.ndarray, list[tuple]]:
    """Additive component (n,) float64 with variance ``h2_additive`` and one truth row per locus.

    Additive loci keep ``ADDITIVE_GAP`` loci away from interaction loci where the cohort allows,
    so that LD does not lend interaction loci (pure ones above all) a marginal effect.
    """
    n, l = dos.shape
    if not cfg.n_additive:
        return np.zeros(n), []
    taken = np.array(sorted({i for loci in planted for i in loci}), dtype=np.int64)
    dist = np.full(l, l)
    if len(taken):
        dist = np.abs(np.arange(l)[:, None] - taken[None, :]).min(axis=1)
    poly = dos.min(axis=0) < dos.max(axis=0)
    free = np.flatnonzero(poly & (dist >= ADDITIVE_GAP))
    if len(free) < cfg.n_additive:
        free = np.flatnonzero(poly & (dist > 0))
    causal = np.sort(rng.choice(free, size=cfg.n_additive, replace=False))
    beta = rng.standard_normal(cfg.n_additive)
    raw = dos[:, causal].astype(np.float64) @ beta
    scale = np.sqrt(cfg.h2_additive) / raw.std()
    rows = [
        (f"additive{j + 1}", "additive", 1, ids[i], None, None, int(i), None, None,
         float(np.var(dos[:, i] * b * scale)), 0.0)
        for j, (i, b) in enumerate(zip(causal, beta, strict=True))
    ]  # fmt: skip
    return (raw - raw.mean()) * scale, rows


def simulate(cfg: SimConfig) -> SimulatedCohort:
    """Simulate genotypes and a phenotype with planted interactions, seeded by ``cfg.seed``."""
    rng = np.random.default_rng(cfg.seed)
    geno = simulate_genotypes(
        cfg.n_samples, cfg.n_loci, cfg.n_chrom, cfg.maf_min, cfg.maf_max,
        cfg.n_founders, cfg.switch_rate, cfg.miscopy_rate, rng,
    )  # fmt: skip
    n, l = cfg.n_samples, cfg.n_loci
    ids = np.array([f"snp{i}" for i in range(l)])
    kinds = cfg.pairs + cfg.triples
    orders = [2] * len(cfg.pairs) + [3] * len(cfg.triples)
    planted = choose_planted_loci(
        geno.dosages, geno.chrom, orders, cfg.planted_maf_min, cfg.planted_maf_max, rng
    )
    close = choose_close_pairs(
        geno.dosages, geno.chrom, len(cfg.cis_pairs) + cfg.haplotypes,
        {i for loci in planted for i in loci}, cfg.cis_window, 0.2,
        (cfg.planted_maf_min, 0.5), rng,
    )  # fmt: skip
    cis, hap_pairs = close[: len(cfg.cis_pairs)], close[len(cfg.cis_pairs) :]
    directed = [i for k, loci in zip(kinds + cfg.cis_pairs, planted + cis, strict=True)
                if k != "pure" for i in loci]  # fmt: skip
    geno = orient_alt_minor(geno, directed)
    dos = geno.dosages  # (n, l) int8

    inter, inter_rows = _interaction_terms(dos, ids, kinds, planted, cfg)
    cis_terms, cis_rows = _interaction_terms(dos, ids, cfg.cis_pairs, cis, cfg, "cis")
    haps, hap_rows = _haplotype_terms(geno.haplotypes, dos, ids, hap_pairs, cfg)
    inter |= cis_terms
    additive, add_rows = _additive_background(dos, ids, planted + close, cfg, rng)
    comps = {"additive": additive, **inter, **haps} if cfg.n_additive else {**inter, **haps}
    genetic = additive + sum(inter.values()) + sum(haps.values())

    covar_value = np.zeros(n)
    covars, covar_names = np.zeros((n, 0)), ()
    if cfg.covariates:
        covars, covar_names = simulate_covariates(n, rng)
        z = (covars - covars.mean(0)) / covars.std(0)
        covar_value = standardise(z @ np.array([1.0, 0.5]), cfg.h2_covariates)
    signal = genetic + covar_value
    room = 1.0 - float(np.var(signal))
    if room < 0.02:
        raise GenoattnError(
            f"planted effects explain {1 - room:.3f} of the variance (their terms are correlated "
            "in this sample); lower the h2 settings"
        )
    liability = signal + orthogonal_noise(signal, room, rng)
    values = liability_threshold(liability, cfg.prevalence) if cfg.binary else liability.copy()

    samples = np.array([f"S{i + 1:0{len(str(n))}d}" for i in range(n)])
    loci_frame = make_loci(geno.chrom, geno.pos, ids, geno.ref, geno.alt, [["0", "1", "2"]] * l)
    return SimulatedCohort(
        cohort=Cohort(np.ascontiguousarray(dos), loci_frame, samples),
        haplotypes=geno.haplotypes,
        trait=Trait(samples, values, TRAIT_NAME, cfg.binary, covars, covar_names),
        truth=pl.DataFrame(
            inter_rows + cis_rows + hap_rows + add_rows, schema=TRUTH_SCHEMA, orient="row"
        ),
        genetic_value=genetic,
        covariate_value=covar_value,
        liability=liability,
        components=pl.DataFrame(comps),
        config=cfg,
    )

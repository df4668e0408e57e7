"""Untyped haplotype effects and cis pairs in the simulator; the held-out test conditioned on
local main effects (genoattn/simulate/phantom.py, genoattn/interpret/confirm.py).

Oracles: the simulator's phased haplotypes (the causal allele's carriers counted by hand), an
explicit OLS F test with the local loci's class indicators as covariates, and the planted truth.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from test_simulate import interaction_pvalue

from genoattn.interpret.clump import ld_r2
from genoattn.interpret.conditioning import cis_tuples, condition_sets
from genoattn.interpret.confirm import confirm_pairs, local_loci
from genoattn.simulate import SimConfig, simulate


@pytest.fixture(scope="module")
def phantom():
    cfg = SimConfig(n_samples=4000, n_loci=200, pairs=["product"], cis_pairs=["product"],
                    haplotypes=1, h2_haplotype=0.08, h2_pair=0.05, seed=2)  # fmt: skip
    return simulate(cfg)


def test_haplotype_effect__untyped_additive_allele_on_two_typed_loci(phantom):
    row = phantom.truth.filter(pl.col("kind") == "haplotype").row(0, named=True)
    a, b = row["locus_a"], row["locus_b"]
    assert row["order"] == 1 and phantom.cohort.n_loci == 200  # the causal site is not a locus
    assert phantom.cohort.loci["chrom"][a] == phantom.cohort.loci["chrom"][b]
    assert 1 <= b - a <= 20 and ld_r2(phantom.cohort.states[:, [a, b]])[0, 1] < 0.2
    # the component is linear in the count of copies carrying one allele combination at (a, b)
    comp = phantom.components["haplotype1"].to_numpy()
    h = phantom.haplotypes
    fits = []
    for xa in (0, 1):
        for xb in (0, 1):
            d = ((h[:, a, :] == xa) & (h[:, b, :] == xb)).sum(1).astype(float)
            fits.append(abs(np.corrcoef(d, comp)[0, 1]) if d.std() > 0 else 0.0)
    assert max(fits) == pytest.approx(1.0, abs=1e-9)
    assert np.var(comp) == pytest.approx(0.08, rel=1e-9)
    # a two-locus test of the tagging loci sees an "interaction" though every effect is additive
    y = phantom.trait.values
    g = phantom.cohort.states
    assert row["variance_epistatic"] > 0.005
    assert interaction_pvalue(y, g[:, a], g[:, b]) < 1e-4


def test_cis_pair__close_loci_low_ld_detectable(phantom):
    row = phantom.truth.filter(pl.col("term") == "cis1").row(0, named=True)
    a, b = row["locus_a"], row["locus_b"]
    assert row["order"] == 2 and row["kind"] == "product"
    assert 1 <= b - a <= 20 and ld_r2(phantom.cohort.states[:, [a, b]])[0, 1] < 0.2
    g = phantom.cohort.states
    assert interaction_pvalue(phantom.trait.values, g[:, a], g[:, b]) < 1e-6


def test_simulate__no_phantom_terms_keeps_the_random_stream():
    a = simulate(SimConfig(n_samples=300, n_loci=80, seed=4))
    b = simulate(SimConfig(n_samples=300, n_loci=80, seed=4, cis_pairs=[], haplotypes=0))
    np.testing.assert_array_equal(a.trait.values, b.trait.values)


def _explicit_f(y, z, ga, gb, extra) -> float:
    """4-df genotype test by hand: cells vs classes, with covariates z and extra columns."""
    from scipy import stats

    def oh(g):
        return (g[:, None] == np.arange(3)[None, :]).astype(float)

    def rss(x):
        coef, *_ = np.linalg.lstsq(x, y, rcond=None)
        r = y - x @ coef
        return r @ r, np.linalg.matrix_rank(x)

    cells = (oh(ga)[:, :, None] * oh(gb)[:, None, :]).reshape(len(y), 9)
    r1, p1 = rss(np.hstack([cells, z, extra]))
    r0, p0 = rss(np.hstack([oh(ga), oh(gb), z, extra]))
    f = (r0 - r1) / (p1 - p0) / (r1 / (len(y) - p1))
    return float(stats.f.sf(f, p1 - p0, len(y) - p1))


def test_confirm__conditioning_equals_explicit_covariates(phantom):
    ds = phantom.dataset()
    row = phantom.truth.filter(pl.col("kind") == "haplotype").row(0, named=True)
    pair = np.array([[row["locus_a"], row["locus_b"]]])
    rows = np.arange(3000, 4000)
    cond = local_loci(ds.cohort, pair, window_kb=60.0)
    assert len(cond[0]) > 0 and not set(cond[0]) & set(pair[0])
    got = confirm_pairs(ds, pair, rows, test="genotype", condition=cond)["p"][0]
    g = ds.cohort.states[rows]
    extra = np.hstack([(g[:, [j]] == s).astype(float) for j in cond[0] for s in (1, 2)])
    z = ds.covariates[rows].astype(float)
    y = ds.y[rows].astype(float)
    want = _explicit_f(y - y.mean(), (z - z.mean(0)) / z.std(0), g[:, pair[0, 0]],
                       g[:, pair[0, 1]], extra)  # fmt: skip
    assert got == pytest.approx(want, rel=1e-6)


def test_confirm__local_conditioning_weakens_phantom_keeps_planted_pair(phantom):
    ds = phantom.dataset()
    t = phantom.truth
    hap = t.filter(pl.col("kind") == "haplotype").select("locus_a", "locus_b").to_numpy()
    pair = t.filter(pl.col("term") == "pair1").select("locus_a", "locus_b").to_numpy()
    tuples = np.vstack([hap, pair])
    rows = np.arange(2000, 4000)
    plain = confirm_pairs(ds, tuples, rows, test="genotype")["p"].to_numpy()
    local = local_loci(ds.cohort, tuples, 150.0)
    cond = confirm_pairs(ds, tuples, rows, test="genotype", condition=local)["p"].to_numpy()
    assert plain[0] < 1e-3  # the phantom pair "confirms" without conditioning
    assert cond[0] > 100 * plain[0]  # nearby typed loci tag the haplotype and absorb it
    assert cond[1] < 1e-6 and plain[1] < 1e-6  # a trans planted pair keeps its signal


def test_confirm__no_conditioning_is_unchanged(phantom):
    ds = phantom.dataset()
    pairs = np.array([[0, 5], [10, 40]])
    a = confirm_pairs(ds, pairs, np.arange(500), test="genotype")
    b = confirm_pairs(ds, pairs, np.arange(500), test="genotype", condition=[np.zeros(0, int)] * 2)
    np.testing.assert_allclose(a["p"].to_numpy(), b["p"].to_numpy(), rtol=1e-12)


def test_condition_cis__close_pairs_only_equals_explicit_covariates(phantom):
    """``cis`` conditions a pair within the window on the genotype classes of its local loci
    (an explicit OLS F test with those classes as covariates), leaves a trans pair's test
    unchanged, absorbs the phantom pair and keeps the planted cis pair."""
    ds = phantom.dataset()
    t = phantom.truth
    pick = [pl.col("kind") == "haplotype", pl.col("term") == "pair1", pl.col("term") == "cis1"]
    tuples = np.vstack([t.filter(f).select("locus_a", "locus_b").to_numpy() for f in pick])
    tuples = tuples.astype(np.int64)
    np.testing.assert_array_equal(cis_tuples(ds.cohort, tuples, 150.0), [True, False, True])
    assert len(cis_tuples(ds.cohort, tuples[:0], 150.0)) == 0
    cond = condition_sets("cis", ds.cohort, tuples, 150.0)
    assert len(cond[0]) > 0 and len(cond[1]) == 0
    np.testing.assert_array_equal(cond[0], local_loci(ds.cohort, tuples[:1], 150.0)[0])
    rows = np.arange(2000, 4000)
    got = confirm_pairs(ds, tuples, rows, test="genotype", condition=cond)["p"].to_numpy()
    plain = confirm_pairs(ds, tuples, rows, test="genotype")["p"].to_numpy()
    g = ds.cohort.states[rows]
    extra = np.hstack([(g[:, [j]] == s).astype(float) for j in cond[0] for s in (1, 2)])
    z = ds.covariates[rows].astype(float)
    y = ds.y[rows].astype(float)
    a, b = tuples[0]
    want = _explicit_f(y - y.mean(), (z - z.mean(0)) / z.std(0), g[:, a], g[:, b], extra)
    assert got[0] == pytest.approx(want, rel=1e-6)
    assert got[1] == pytest.approx(plain[1], rel=1e-12)  # the trans pair: no conditioning
    assert plain[0] < 1e-3 and got[0] > 100 * plain[0]  # nearby loci absorb the phantom
    assert got[2] < 1e-3  # the planted cis interaction is not absorbed

"""Typed test-statistics records: P-values against scipy.stats, field-wise map / concat."""

import numpy as np
import pytest
import torch
from scipy import stats

from genoattn.stats.teststats import GenotypeStats, ProductStats, stats_type


def test_product_columns__chi2_tail_and_odds_ratio():
    rec = ProductStats(np.array([2.0, -0.5]), np.array([1.0, 0.25]), np.array([100.0, 90.0]))
    cols = rec.columns()
    assert list(cols) == ["n", "BETA_INT", "SE", "STAT", "P"]
    np.testing.assert_allclose(cols["STAT"], [4.0, 4.0])
    np.testing.assert_allclose(cols["P"], stats.chi2.sf([4.0, 4.0], 1), rtol=1e-12)
    odds = rec.columns(odds_ratio=True)
    assert list(odds)[:2] == ["n", "OR_INT"]
    np.testing.assert_allclose(odds["OR_INT"], np.exp([2.0, -0.5]))


def test_genotype_columns__f_tail():
    rec = GenotypeStats(np.array([3.0, np.nan]), np.array([4.0, 4.0]), np.array([95.0, 95.0]),
                        np.array([104.0, 104.0]))  # fmt: skip
    cols = rec.columns()
    assert list(cols) == ["n", "F", "DF1", "DF2", "P"]
    assert cols["P"][0] == pytest.approx(stats.f.sf(3.0, 4, 95), rel=1e-12)
    assert np.isnan(cols["P"][1])


def test_map_numpy_concat_empty():
    rec = ProductStats(torch.tensor([1.0, 2.0, 3.0]), torch.ones(3), torch.full((3,), 5.0))
    kept = rec.map(lambda v: v[torch.tensor([True, False, True])]).numpy()
    assert isinstance(kept.beta, np.ndarray) and kept.beta.dtype == np.float64
    np.testing.assert_array_equal(kept.beta, [1.0, 3.0])
    both = ProductStats.concat([kept, kept])
    np.testing.assert_array_equal(both.beta, [1.0, 3.0, 1.0, 3.0])
    assert len(stats_type("genotype").concat([]).F) == 0
    assert stats_type("product") is ProductStats and stats_type("logistic") is ProductStats

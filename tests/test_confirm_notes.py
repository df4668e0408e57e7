"""Held-out rows that cannot be tested say why (issue 13 item 7) instead of an unexplained NaN row.

Oracle: cohorts built by hand so that one locus has a single genotype class in the test rows, or
the test rows are fewer than the model's parameters; a testable pair keeps an empty note.
"""

from __future__ import annotations

import numpy as np
import pytest

from genoattn.contract import Cohort, Dataset, make_loci
from genoattn.interpret.confirm import confirm_pairs


def _dataset(n: int = 120, seed: int = 0) -> Dataset:
    rng = np.random.default_rng(seed)
    g = rng.binomial(2, 0.4, size=(n, 3)).astype(np.int8)
    g[:60, 0] = 0  # locus 0: one genotype class (0) in the first 60 samples
    y = (g[:, 1] * g[:, 2] + rng.normal(size=n)).astype(np.float32)
    loci = make_loci(["1"] * 3, [1, 2, 3], ["a", "b", "c"], ["A"] * 3, ["G"] * 3,
                     [["0", "1", "2"]] * 3)  # fmt: skip
    cohort = Cohort(g, loci, np.array([f"s{i}" for i in range(n)]))
    return Dataset(cohort, y, np.zeros((n, 0), np.float32), "y", False)


@pytest.mark.parametrize("test", ["genotype", "product"])
def test_confirm__monomorphic_locus_in_test_rows_is_explained(test):
    ds = _dataset()
    res = confirm_pairs(ds, np.array([[0, 1], [1, 2]]), rows=np.arange(60), test=test)
    bad, good = res.row(0, named=True), res.row(1, named=True)
    assert np.isnan(bad["p"]) and bad["df1"] == 0
    assert bad["note"] == "locus A has one genotype class in the test samples"
    assert good["note"] is None and np.isfinite(good["p"]) and good["df1"] >= 1


def test_confirm__too_few_samples_and_absent_combinations_are_explained():
    ds = _dataset()
    four = confirm_pairs(ds, np.array([[1, 2]]), rows=np.arange(60, 64), test="genotype")
    assert four["n"][0] == 4 and np.isnan(four["p"][0])
    assert four["note"][0] == "too few test samples called at these loci (N <= parameters)"
    # six samples: both loci vary, but their classes occur in too few combinations for any
    # interaction contrast (DF1 = 0)
    six = confirm_pairs(ds, np.array([[1, 2]]), rows=np.arange(60, 66), test="genotype")
    assert six["df1"][0] == 0 and np.isnan(six["p"][0])
    assert six["note"][0] == "genotype class combinations absent in the test samples"


def test_confirm__separated_logistic_fit_gets_a_finite_firth_test():
    """Complete separation: the MLE does not exist, Firth's penalised fit does (firth.py)."""
    rng = np.random.default_rng(4)
    n = 200
    g = rng.binomial(2, 0.5, size=(n, 3)).astype(np.int8)
    y = (g[:, 0] * g[:, 1] >= 2).astype(np.float32)  # the product term separates cases exactly
    loci = make_loci(["1"] * 3, [1, 2, 3], ["a", "b", "c"], ["A"] * 3, ["G"] * 3,
                     [["0", "1", "2"]] * 3)  # fmt: skip
    ds = Dataset(Cohort(g, loci, np.arange(n).astype(str)), y, np.zeros((n, 0), np.float32),
                 "y", True)  # fmt: skip
    res = confirm_pairs(ds, np.array([[0, 1], [0, 2]]), test="product")
    # g_a + g_b >= 3 separates the cases already: the product adds nothing (large P)
    assert res["note"][0] is None and np.isfinite(res["se"][0]) and res["p"][0] > 0.05
    assert res["note"][1] is None and np.isfinite(res["p"][1])

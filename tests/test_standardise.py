"""One covariate standardisation (fit, scan, held-out test), checked on hand-computed values."""

from __future__ import annotations

import numpy as np

from genoattn.data.standardise import standardisation, standardise


def test_standardisation__hand_computed_and_constant_columns_only_centred():
    x = np.array([[1.0, 5.0], [3.0, 5.0], [5.0, 5.0]])
    s = standardisation(x)
    sd = np.sqrt(8 / 3)  # population SD of 1, 3, 5
    assert np.allclose(s.mean, [3.0, 5.0]) and np.allclose(s.std, [sd, 1.0])
    assert np.allclose(standardise(x), [[-2 / sd, 0], [0, 0], [2 / sd, 0]])


def test_standardisation__estimated_on_some_rows_applies_to_all():
    x = np.array([[0.0], [2.0], [10.0]])
    s = standardisation(x[:2])  # the training rows
    assert np.allclose(s.apply(x)[:, 0], [-1.0, 1.0, 9.0])
    assert standardise(np.zeros((3, 0))).shape == (3, 0)

"""Column standardisation of covariates: one rule for the fit, the scan and the held-out test."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Standardisation:
    """Column means and SDs, shape (c,) each; a constant column keeps SD 1 (it only centres)."""

    mean: np.ndarray
    std: np.ndarray

    def apply(self, x: np.ndarray) -> np.ndarray:
        """(n, c) float64: (x - mean) / std."""
        return (np.asarray(x, dtype=np.float64) - self.mean) / self.std


def standardisation(x: np.ndarray) -> Standardisation:
    """The standardisation of the columns of x, shape (n, c), estimated on its rows."""
    x = np.asarray(x, dtype=np.float64)
    if x.shape[1] == 0 or x.shape[0] == 0:
        return Standardisation(np.zeros(x.shape[1]), np.ones(x.shape[1]))
    sd = x.std(axis=0)
    return Standardisation(x.mean(axis=0), np.where(sd > 0, sd, 1.0))


def standardise(x: np.ndarray) -> np.ndarray:
    """(n, c) float64: the columns of x standardised on its own rows."""
    return standardisation(x).apply(x)

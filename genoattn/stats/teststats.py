"""Per-tuple interaction test statistics as typed records (pair and 3-way scans).

A record holds one array per field, all of one shape (any shape: a tile (a, b), a flat list of
t tuples), as torch tensors on the device while a tile is computed and as numpy float64 arrays
after :meth:`TestStats.numpy`. :meth:`TestStats.columns` gives the output columns in PLINK's
conventions with their P-values.

* :class:`ProductStats` - the 1-df product test: BETA_INT (the coefficient of the product term;
  a log odds ratio for the logistic test), its SE and the samples used; STAT = (BETA_INT / SE)^2,
  P its chi-square (1 df) tail.
* :class:`GenotypeStats` - the genotype-class F test: F, DF1, DF2 and the samples used; P the
  F(DF1, DF2) tail.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
import torch


@dataclass(frozen=True)
class TestStats(ABC):
    """Base of the statistics records: field-wise mapping, concatenation, conversion."""

    __test__ = False  # not a pytest test class

    def map(self, fn: Callable[[Any], Any]):
        """The same record with ``fn`` applied to every field (e.g. a mask, a device move)."""
        return type(self)(**{f.name: fn(getattr(self, f.name)) for f in fields(self)})

    def numpy(self):
        """The record as numpy float64 arrays."""
        return self.map(_to_numpy)

    @classmethod
    def empty(cls):
        return cls(**{f.name: np.zeros(0) for f in fields(cls)})

    @classmethod
    def concat(cls, parts: Sequence[TestStats]):
        """Field-wise concatenation of numpy records (an empty record when there are none)."""
        if not parts:
            return cls.empty()
        cat = {f.name: np.concatenate([getattr(p, f.name) for p in parts]) for f in fields(cls)}
        return cls(**cat)

    @abstractmethod
    def stat(self):
        """The ranking statistic (larger is stronger): STAT or F."""

    @abstractmethod
    def columns(self, odds_ratio: bool = False) -> dict[str, np.ndarray]:
        """Output columns (numpy record): n, the test's columns, P."""


@dataclass(frozen=True)
class ProductStats(TestStats):
    """The product test per tuple.

    Attributes:
        beta: BETA_INT (NaN where the model is singular or the fit failed).
        se: its standard error.
        n: samples used.
    """

    beta: Any
    se: Any
    n: Any

    def stat(self):
        return (self.beta / self.se) ** 2

    def columns(self, odds_ratio: bool = False) -> dict[str, np.ndarray]:
        """n, BETA_INT, SE, STAT, P; with ``odds_ratio`` (logistic test) OR_INT first."""
        stat = self.stat()
        # chi-square 1 df tail; torch's float64 erfc agrees with scipy's to 3e-15 (relative) and
        # spares the scan command the scipy import
        p = torch.special.erfc(torch.from_numpy(np.sqrt(stat / 2))).numpy()
        out = {"n": self.n, "BETA_INT": self.beta, "SE": self.se, "STAT": stat, "P": p}
        return {"n": self.n, "OR_INT": np.exp(self.beta), **out} if odds_ratio else out


@dataclass(frozen=True)
class GenotypeStats(TestStats):
    """The genotype-class F test per tuple.

    Attributes:
        F: the F statistic (NaN where undefined).
        df1, df2: its degrees of freedom.
        n: samples used.
    """

    F: Any
    df1: Any
    df2: Any
    n: Any

    def stat(self):
        return self.F

    def columns(self, odds_ratio: bool = False) -> dict[str, np.ndarray]:
        """n, F, DF1, DF2, P."""
        from scipy import special

        with np.errstate(invalid="ignore"):
            p = special.fdtrc(self.df1, self.df2, self.F)
        return {"n": self.n, "F": self.F, "DF1": self.df1, "DF2": self.df2, "P": p}


def stats_type(test: str) -> type[TestStats]:
    """The record of a test: product (and logistic) or genotype."""
    return GenotypeStats if test == "genotype" else ProductStats


def _to_numpy(v) -> np.ndarray:
    if isinstance(v, torch.Tensor):
        return v.detach().cpu().to(torch.float64).numpy()
    return np.asarray(v, dtype=np.float64)

"""Match genotype samples to phenotype samples by ID and build the :class:`Dataset` models consume.

Axis legend: n samples used, c covariates.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from genoattn.contract import Cohort, Dataset, Trait
from genoattn.errors import GenoattnError


@dataclass(frozen=True)
class AlignReport:
    """How many samples each input had and how many are used."""

    geno_label: str
    pheno_label: str
    n_genotype: int
    n_phenotype: int
    n_overlap: int
    n_missing_trait: int  # overlapping samples dropped for a missing trait value
    n_missing_covariates: int  # ... then dropped for a missing covariate
    n_used: int

    def summary(self) -> str:
        return (
            f"samples: genotype file had {self.n_genotype}, phenotype file had {self.n_phenotype}, "
            f"{self.n_overlap} in both, {self.n_missing_trait} dropped for missing trait, "
            f"{self.n_missing_covariates} for missing covariates; {self.n_used} used"
        )

    def lines(self) -> list[str]:
        return [self.summary()]


def align(
    cohort: Cohort, trait: Trait, geno_label: str, pheno_label: str
) -> tuple[Dataset, AlignReport]:
    """Intersect sample IDs (keeping the genotype order) and drop samples with missing values.

    Args:
        cohort: genotypes, shape (n_g, l).
        trait: phenotype (and covariates) for n_p samples.
        geno_label, pheno_label: names of the two inputs, used in reports and errors.

    Returns:
        Dataset with y shape (n,) float32 and covariates shape (n, c) float32, and the report.

    Raises:
        GenoattnError: duplicate sample IDs in either input; no overlapping samples; no sample left
            after dropping missing values.
    """
    gids = np.asarray(cohort.samples).astype(str)
    pids = np.asarray(trait.samples).astype(str)
    for ids, label in ((gids, geno_label), (pids, pheno_label)):
        uniq, counts = np.unique(ids, return_counts=True)
        if (counts > 1).any():
            raise GenoattnError(f"duplicate sample IDs {uniq[counts > 1][:5].tolist()}", label)
    where = {s: i for i, s in enumerate(pids.tolist())}
    g_rows = np.asarray([i for i, s in enumerate(gids.tolist()) if s in where], dtype=np.int64)
    if len(g_rows) == 0:
        raise GenoattnError(
            f"no sample IDs in common between {geno_label} ({len(gids)} samples, e.g. "
            f"{gids[:3].tolist()}) and {pheno_label} ({len(pids)} samples, e.g. "
            f"{pids[:3].tolist()})"
        )
    p_rows = np.asarray([where[s] for s in gids[g_rows].tolist()], dtype=np.int64)
    y = trait.values[p_rows]
    cov = trait.covariates[p_rows]
    ok_trait = ~np.isnan(y)
    ok_cov = ~np.isnan(cov).any(axis=1)
    keep = ok_trait & ok_cov
    report = AlignReport(
        geno_label=geno_label,
        pheno_label=pheno_label,
        n_genotype=len(gids),
        n_phenotype=len(pids),
        n_overlap=len(g_rows),
        n_missing_trait=int((~ok_trait).sum()),
        n_missing_covariates=int((ok_trait & ~ok_cov).sum()),
        n_used=int(keep.sum()),
    )
    if report.n_used == 0:
        raise GenoattnError(
            f"none of the {len(g_rows)} samples shared with {geno_label} has a non-missing "
            f"trait {trait.name!r} and covariates",
            pheno_label,
        )
    rows = g_rows[keep]
    same = len(rows) == cohort.n_samples  # rows is increasing, so all rows means identity
    sub = cohort if same else cohort.subset(samples=rows)
    data = Dataset(
        cohort=sub,
        y=y[keep].astype(np.float32),
        covariates=cov[keep].astype(np.float32).reshape(len(rows), -1),
        trait=trait.name,
        binary=trait.binary,
        covariate_names=tuple(trait.covariate_names),
    )
    return data, report

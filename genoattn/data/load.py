"""From a :class:`DataConfig` to the objects models consume: cached cohort + trait, aligned."""

from __future__ import annotations

from genoattn.config import DataConfig
from genoattn.contract import Cohort, Dataset
from genoattn.data.align import align
from genoattn.encode.cache import load_cohort
from genoattn.errors import GenoattnError


def _geno_label(cfg: DataConfig) -> str:
    return str(cfg.vcf or cfg.bfile or cfg.pfile or cfg.fasta)


def load_genotypes(cfg: DataConfig, progress: bool = False, log=print) -> Cohort:
    """The QC'd, cached cohort of ``cfg`` (no phenotype; used by ``predict``); logs the QC line."""
    cohort, report = load_cohort(cfg, progress=progress, log=log)
    log(report.summary())
    return cohort


def load_dataset(cfg: DataConfig, progress: bool = False, log=print) -> Dataset:
    """Genotypes (cached, QC'd) aligned with ``cfg.pheno`` / ``cfg.trait`` / ``cfg.covar``.

    Logs one QC line and one sample-matching line through ``log``.
    """
    from genoattn.io.table import read_trait

    if not cfg.pheno:
        raise GenoattnError("data: a phenotype file (pheno) is required")
    cohort, qc_report = load_cohort(cfg, progress=progress, log=log)
    log(qc_report.summary())
    trait = read_trait(cfg.pheno, cfg.trait, cfg.covar)
    data, report = align(cohort, trait, _geno_label(cfg), str(cfg.pheno))
    log(report.summary())
    return data

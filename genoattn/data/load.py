"""From a :class:`DataConfig` to the objects models consume: cached cohort + trait, aligned."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

from genoattn.config import DataConfig
from genoattn.contract import Cohort, Dataset
from genoattn.data.align import align
from genoattn.encode.cache import cache_key, load_cohort
from genoattn.encode.qc import QCReport, apply_qc
from genoattn.errors import GenoattnError


def _geno_label(cfg: DataConfig) -> str:
    return str(cfg.vcf or cfg.bfile or cfg.pfile or cfg.fasta or cfg.zarr)


def _cohort(cfg: DataConfig, progress: bool, log) -> tuple[Cohort, QCReport]:
    """Dispatch on the input kind: a VCF-Zarr store is read directly (it is already a chunked
    binary encoding), every other input through the encoded-cohort cache."""
    if cfg.zarr:
        from genoattn.io.zarr import read_zarr

        cohort = read_zarr(cfg.zarr, progress=progress)
        log(f"zarr: read {cohort.n_samples} samples x {cohort.n_loci} loci from {cfg.zarr}")
        return apply_qc(cohort, cfg.qc)
    return load_cohort(cfg, progress=progress, log=log)


def load_genotypes(cfg: DataConfig, progress: bool = False, log=print) -> Cohort:
    """The QC'd, cached cohort of ``cfg`` (no phenotype; used by ``predict``); logs the QC line."""
    cohort, report = _cohort(cfg, progress, log)
    log(report.summary())
    return cohort


def load_dataset(cfg: DataConfig, progress: bool = False, log=print) -> Dataset:
    """Genotypes (cached, QC'd) aligned with ``cfg.pheno`` / ``cfg.trait`` / ``cfg.covar``.

    Logs one QC line and one sample-matching line through ``log``.
    """
    from genoattn.io.table import read_trait

    if not cfg.pheno:
        raise GenoattnError("data: a phenotype file (pheno) is required")
    cohort, qc_report = _cohort(cfg, progress, log)
    log(qc_report.summary())
    trait = read_trait(cfg.pheno, cfg.trait, cfg.covar)
    data, report = align(cohort, trait, _geno_label(cfg), str(cfg.pheno))
    log(report.summary())
    return data


def _stat(path: str | None) -> dict | None:
    if not path:
        return None
    p = Path(path)
    st = p.stat()
    return {"path": str(p.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def input_record(cfg: DataConfig) -> dict:
    """The inputs of a run as recorded beside its results: the config (to reload the data) and
    each file's resolved path, size and mtime (to tell two runs on different inputs apart)."""
    if cfg.zarr:
        store = Path(cfg.zarr)
        meta = [
            m for m in (store / "zarr.json", store / "call_genotype" / "zarr.json") if m.exists()
        ]
        files = [_stat(str(m)) for m in meta]
    else:
        files = cache_key(cfg)["inputs"]
    conf = asdict(cfg)
    for k in ("vcf", "bfile", "fasta", "zarr", "pheno", "covar", "cache_dir"):
        if conf[k]:
            conf[k] = str(Path(conf[k]).resolve())  # merge may run in another folder
    return {
        "config": conf,
        "genotypes": files,
        "pheno": _stat(cfg.pheno),
        "covar": _stat(cfg.covar),
    }


def config_from_record(rec: dict) -> DataConfig:
    """The DataConfig recorded by :func:`input_record`."""
    from genoattn.config import from_dict

    return from_dict(DataConfig, rec["config"])

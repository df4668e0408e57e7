"""A command's input files as a :class:`DataConfig`, and a run's inputs moved elsewhere."""

from __future__ import annotations

import copy
from pathlib import Path

from genoattn.config import DataConfig, QCConfig
from genoattn.errors import GenoattnError

GENOTYPE_INPUTS = ("vcf", "bfile", "pfile", "fasta", "zarr")


def data_config(
    vcf: Path | None, bfile: str | None, fasta: Path | None, pheno: Path | None,
    trait: str | None, covar: Path | None, alphabet: str | None, maf: float, geno: float,
    mind: float, need_pheno: bool = True, pfile: str | None = None,
    cache_dir: Path | None = None, zarr: Path | None = None,
) -> DataConfig:  # fmt: skip
    """The DataConfig of a command's input options; exactly one genotype input must be given."""
    given = [
        f"--{k}"
        for k, v in zip(GENOTYPE_INPUTS, (vcf, bfile, pfile, fasta, zarr), strict=True)
        if v
    ]
    if len(given) != 1:
        raise GenoattnError(
            "give exactly one of --vcf FILE, --bfile PREFIX, --pfile PREFIX, --fasta FILE or "
            "--zarr STORE" + (f" (got {' and '.join(given)})" if given else "")
        )
    if need_pheno and pheno is None:
        raise GenoattnError("a phenotype is required: give --pheno FILE")
    return DataConfig(
        vcf=_str(vcf), bfile=bfile, pfile=pfile, fasta=_str(fasta), zarr=_str(zarr),
        pheno=_str(pheno), trait=trait, covar=_str(covar), alphabet=alphabet,
        cache_dir=_str(cache_dir), qc=QCConfig(maf=maf, geno=geno, mind=mind),
    )  # fmt: skip


def _str(path: Path | str | None) -> str | None:
    return None if path is None else str(path)


def with_inputs(data: DataConfig, **paths: Path | str | None) -> DataConfig:
    """A copy of a run's DataConfig with input files moved: ``paths`` maps vcf / bfile / pfile /
    fasta / zarr / pheno / covar / cache_dir to a new location (None: keep the run's).

    A genotype input replaces the run's genotype input, whatever its format; QC, trait and
    alphabet stay the run's, so the same loci and samples are read from the new files.
    """
    unknown = sorted(set(paths) - {*GENOTYPE_INPUTS, "pheno", "covar", "cache_dir"})
    if unknown:
        raise GenoattnError(f"input overrides: unknown input option(s) {unknown}")
    given = {k: str(v) for k, v in paths.items() if v is not None}
    genotype = [k for k in GENOTYPE_INPUTS if k in given]
    if len(genotype) > 1:
        raise GenoattnError(f"give at most one genotype input (got {', '.join(genotype)})")
    out = copy.deepcopy(data)
    if genotype:
        for k in GENOTYPE_INPUTS:
            setattr(out, k, None)
    for k, v in given.items():
        setattr(out, k, v)
    return out

"""Option types shared by the commands that read genotypes and phenotypes."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from genoattn.config import DataConfig, QCConfig
from genoattn.errors import GenoattnError

Vcf = Annotated[Path | None, typer.Option(help="Genotypes as VCF (.vcf or bgzipped .vcf.gz).")]
Bfile = Annotated[str | None, typer.Option(help="Genotypes as a PLINK .bed/.bim/.fam prefix.")]
Fasta = Annotated[Path | None, typer.Option(help="Aligned sequences (FASTA), one per sample.")]
Alphabet = Annotated[
    str | None, typer.Option(help="FASTA alphabet: dna, rna or protein (inferred when omitted).")
]
Pheno = Annotated[
    Path | None,
    typer.Option(help="Phenotype table: FID IID columns (PLINK style), TSV, CSV or whitespace."),
]
Trait = Annotated[
    str | None, typer.Option(help="Phenotype column to use (default: the first after FID/IID).")
]
Covar = Annotated[Path | None, typer.Option(help="Covariate table (FID IID + numeric columns).")]
Maf = Annotated[float, typer.Option(help="QC: drop loci with minor-allele frequency below.")]
Geno = Annotated[float, typer.Option(help="QC: drop loci with missing-call rate above.")]
Mind = Annotated[float, typer.Option(help="QC: drop samples with missing-call rate above.")]
Progress = Annotated[bool, typer.Option(help="Show progress bars.")]


class ModelKind(str, Enum):
    sa = "sa"
    hfa = "hfa"
    ha = "ha"
    rfa = "rfa"
    additive = "additive"


class FitMethod(str, Enum):
    auto = "auto"
    sparse = "sparse"
    sgd = "sgd"
    ridge = "ridge"


def data_config(
    vcf: Path | None,
    bfile: str | None,
    fasta: Path | None,
    pheno: Path | None,
    trait: str | None,
    covar: Path | None,
    alphabet: str | None,
    maf: float,
    geno: float,
    mind: float,
    need_pheno: bool = True,
) -> DataConfig:
    """Build the DataConfig of a command, checking that exactly one genotype input is given."""
    given = [name for name, v in (("--vcf", vcf), ("--bfile", bfile), ("--fasta", fasta)) if v]
    if len(given) != 1:
        raise GenoattnError(
            "give exactly one of --vcf FILE, --bfile PREFIX or --fasta FILE"
            + (f" (got {' and '.join(given)})" if given else "")
        )
    if need_pheno and pheno is None:
        raise GenoattnError("a phenotype is required: give --pheno FILE")
    return DataConfig(
        vcf=None if vcf is None else str(vcf),
        bfile=bfile,
        fasta=None if fasta is None else str(fasta),
        pheno=None if pheno is None else str(pheno),
        trait=trait,
        covar=None if covar is None else str(covar),
        alphabet=alphabet,
        qc=QCConfig(maf=maf, geno=geno, mind=mind),
    )

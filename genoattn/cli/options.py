"""Option types shared by the commands that read genotypes and phenotypes."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from genoattn.config import DataConfig, QCConfig
from genoattn.errors import GenoattnError

Vcf = Annotated[
    Path | None, typer.Option(metavar="FILE", help="Genotypes as VCF (.vcf or bgzipped .vcf.gz).")
]
Bfile = Annotated[
    str | None, typer.Option(metavar="PREFIX", help="Genotypes as a PLINK .bed/.bim/.fam prefix.")
]
Pfile = Annotated[
    str | None,
    typer.Option(
        metavar="PREFIX", help="Genotypes as a PLINK 2 .pgen/.pvar/.psam prefix (genoattn[pgen])."
    ),
]
CacheDir = Annotated[
    Path | None,
    typer.Option(
        metavar="DIR",
        help="Folder for the encoded-genotype cache (default: <input>.genoattn_cache beside "
        "the input, else ~/.cache/genoattn).",
        show_default=False,
    ),
]
Zarr = Annotated[
    Path | None,
    typer.Option(
        metavar="STORE", help="Genotypes as a VCF-Zarr store (bio2zarr vcf2zarr convert)."
    ),
]
Fasta = Annotated[
    Path | None, typer.Option(metavar="FILE", help="Aligned sequences (FASTA), one per sample.")
]
Alphabet = Annotated[
    str | None, typer.Option(help="FASTA alphabet: dna, rna or protein (inferred when omitted).")
]
Pheno = Annotated[
    Path | None,
    typer.Option(
        metavar="FILE",
        help="Phenotype table: FID IID columns (PLINK style), TSV, CSV or whitespace.",
    ),
]
Trait = Annotated[
    str | None,
    typer.Option(
        metavar="NAME", help="Phenotype column to use (default: the first after FID/IID)."
    ),
]
Covar = Annotated[
    Path | None, typer.Option(metavar="FILE", help="Covariate table (FID IID + numeric columns).")
]
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
    pfile: str | None = None,
    cache_dir: Path | None = None,
    zarr: Path | None = None,
) -> DataConfig:
    """Build the DataConfig of a command, checking that exactly one genotype input is given."""
    inputs = (
        ("--vcf", vcf), ("--bfile", bfile), ("--pfile", pfile), ("--fasta", fasta), ("--zarr", zarr)
    )  # fmt: skip
    given = [name for name, v in inputs if v]
    if len(given) != 1:
        raise GenoattnError(
            "give exactly one of --vcf FILE, --bfile PREFIX, --pfile PREFIX, --fasta FILE or "
            "--zarr STORE" + (f" (got {' and '.join(given)})" if given else "")
        )
    if need_pheno and pheno is None:
        raise GenoattnError("a phenotype is required: give --pheno FILE")
    return DataConfig(
        vcf=None if vcf is None else str(vcf),
        bfile=bfile,
        pfile=pfile,
        fasta=None if fasta is None else str(fasta),
        zarr=None if zarr is None else str(zarr),
        pheno=None if pheno is None else str(pheno),
        trait=trait,
        covar=None if covar is None else str(covar),
        alphabet=alphabet,
        cache_dir=None if cache_dir is None else str(cache_dir),
        qc=QCConfig(maf=maf, geno=geno, mind=mind),
    )

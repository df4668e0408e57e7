"""Option types shared by the commands that read genotypes and phenotypes."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from genoattn.config import FitMethod, InteractionTest, ModelKind
from genoattn.data.inputs import data_config

__all__ = ["FitMethod", "InteractionTest", "ModelKind", "data_config"]

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

# The inputs of a run moved elsewhere (export, report): each replaces the file the run recorded.
_MOVED = "Read the run's {} from here instead of the path recorded at fit (a moved or copied run)."
MovedVcf = Annotated[Path | None, typer.Option("--vcf", metavar="FILE", help=_MOVED.format("VCF"))]
MovedBfile = Annotated[
    str | None, typer.Option("--bfile", metavar="PREFIX", help=_MOVED.format("PLINK .bed prefix"))
]
MovedPfile = Annotated[
    str | None, typer.Option("--pfile", metavar="PREFIX", help=_MOVED.format("PLINK 2 prefix"))
]
MovedZarr = Annotated[
    Path | None, typer.Option("--zarr", metavar="STORE", help=_MOVED.format("VCF-Zarr store"))
]
MovedFasta = Annotated[
    Path | None, typer.Option("--fasta", metavar="FILE", help=_MOVED.format("FASTA"))
]
MovedPheno = Annotated[
    Path | None, typer.Option("--pheno", metavar="FILE", help=_MOVED.format("phenotype table"))
]
MovedCovar = Annotated[
    Path | None, typer.Option("--covar", metavar="FILE", help=_MOVED.format("covariate table"))
]

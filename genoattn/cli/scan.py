"""``genoattn scan``: exhaustive pairwise interaction scan (PLINK 1.9 --epistasis compatible)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer


class TestKind(str, Enum):
    product = "product"
    genotype = "genotype"


def scan(
    vcf: Annotated[Path | None, typer.Option(help="Genotypes as VCF/BCF (.vcf, .vcf.gz).")] = None,
    bfile: Annotated[
        str | None, typer.Option(help="Genotypes as a PLINK .bed/.bim/.fam prefix.")
    ] = None,
    pheno: Annotated[
        Path | None, typer.Option(help="Phenotype table (FID IID columns, PLINK style).")
    ] = None,
    trait: Annotated[str | None, typer.Option(help="Phenotype column (default: first).")] = None,
    covar: Annotated[Path | None, typer.Option(help="Covariate table (FID IID columns).")] = None,
    test: Annotated[
        TestKind,
        typer.Option(
            help="product: y ~ g_a + g_b + g_a*g_b (PLINK --epistasis); "
            "genotype: 4-df test of the 3x3 genotype classes."
        ),
    ] = TestKind.product,
    out: Annotated[Path, typer.Option(help="Output table (.tsv, or .parquet).")] = Path("scan.tsv"),
    top: Annotated[int, typer.Option(min=1, help="Keep the best TOP pairs.")] = 1000,
    clump: Annotated[bool, typer.Option(help="LD-clump the ranked pairs.")] = False,
    clump_r2: Annotated[float, typer.Option(help="Clumping r^2 threshold.")] = 0.5,
    clump_kb: Annotated[float, typer.Option(help="Clumping window in kb.")] = 250.0,
    maf: Annotated[float, typer.Option(help="Drop loci with minor-allele frequency below.")] = 0.0,
    geno: Annotated[float, typer.Option(help="Drop loci with missing-call rate above.")] = 1.0,
    mind: Annotated[float, typer.Option(help="Drop samples with missing-call rate above.")] = 1.0,
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = True,
) -> None:
    """Test every pair of biallelic loci for interaction and write the ranked table."""
    from genoattn.config import DataConfig, QCConfig
    from genoattn.data.load import load_dataset
    from genoattn.errors import GenoattnError
    from genoattn.interpret.clump import clump as run_clump
    from genoattn.interpret.scan import scan as run_scan
    from genoattn.interpret.table import pair_table, write_table

    if not (vcf or bfile):
        raise GenoattnError("scan needs genotypes: give --vcf FILE or --bfile PREFIX")
    if pheno is None:
        raise GenoattnError("scan needs a phenotype: give --pheno FILE")
    cfg = DataConfig(
        vcf=None if vcf is None else str(vcf),
        bfile=bfile,
        pheno=str(pheno),
        trait=trait,
        covar=None if covar is None else str(covar),
        qc=QCConfig(maf=maf, geno=geno, mind=mind),
    )
    ds = load_dataset(cfg, progress=progress)
    if ds.binary:
        typer.echo("scan: case/control trait (0/1) tested with the linear model")
    res = run_scan(ds, test.value, top=top, progress=progress)
    if clump:
        res = run_clump(res, ds.cohort, r2=clump_r2, window_kb=clump_kb)
    stats = res.drop("idx_a", "idx_b")
    table = pair_table(ds.cohort.loci, res["idx_a"].to_numpy(), res["idx_b"].to_numpy(), stats)
    write_table(table, out)
    typer.echo(f"scan: wrote {table.height} pairs to {out}")

"""``genoattn scan``: exhaustive pairwise interaction scan (PLINK 1.9 --epistasis compatible)."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from genoattn.cli import options as o


class TestKind(str, Enum):
    product = "product"
    genotype = "genotype"


def scan(
    vcf: o.Vcf = None,
    bfile: o.Bfile = None,
    pheno: o.Pheno = None,
    trait: o.Trait = None,
    covar: o.Covar = None,
    test: Annotated[
        TestKind,
        typer.Option(
            help="product: y ~ g_a + g_b + g_a*g_b (PLINK --epistasis); "
            "genotype: 4-df test of the 3x3 genotype classes."
        ),
    ] = TestKind.product,
    out: Annotated[Path, typer.Option(help="Output table (.tsv, or .parquet).")] = Path("scan.tsv"),
    top: Annotated[int, typer.Option(min=1, help="Keep the best TOP pairs.")] = 1000,
    order: Annotated[
        int,
        typer.Option(
            min=2,
            max=3,
            help="2: pairs; 3: all triples (product: 1-df g_a*g_b*g_c term over all lower "
            "terms; genotype: 8-df 27-cell test against all pairwise genotype-class terms).",
        ),
    ] = 2,
    clump: Annotated[bool, typer.Option(help="LD-clump the ranked pairs.")] = False,
    clump_r2: Annotated[float, typer.Option(help="Clumping r^2 threshold.")] = 0.5,
    clump_kb: Annotated[float, typer.Option(help="Clumping window in kb.")] = 250.0,
    maf: o.Maf = 0.0,
    geno: o.Geno = 1.0,
    mind: o.Mind = 1.0,
    progress: o.Progress = True,
) -> None:
    """Test every pair of biallelic loci for interaction and write the ranked table."""
    from genoattn.data.load import load_dataset
    from genoattn.interpret.clump import clump as run_clump
    from genoattn.interpret.scan import scan as run_scan
    from genoattn.interpret.table import pair_table, triple_table, write_table

    cfg = o.data_config(vcf, bfile, None, pheno, trait, covar, None, maf, geno, mind)
    ds = load_dataset(cfg, progress=progress)
    if ds.binary:
        typer.echo("scan: case/control trait (0/1) tested with the linear model")
    if order == 3:
        from genoattn.stats.scan3 import scan_triples

        res = scan_triples(ds, test.value, top=top, progress=progress, log=typer.echo)
    else:
        res = run_scan(ds, test.value, top=top, progress=progress)
    if clump:
        res = run_clump(res, ds.cohort, r2=clump_r2, window_kb=clump_kb)
    idx = [res[c].to_numpy() for c in res.columns if c.startswith("idx_")]
    make = triple_table if order == 3 else pair_table
    table = make(ds.cohort.loci, *idx, res.drop("idx_a", "idx_b", "idx_c", strict=False))
    write_table(table, out)
    typer.echo(f"scan: wrote {table.height} {'triples' if order == 3 else 'pairs'} to {out}")

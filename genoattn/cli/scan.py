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
    out: Annotated[
        Path, typer.Option(metavar="FILE", help="Output table (.tsv, or .parquet).")
    ] = Path("scan.tsv"),
    top: Annotated[
        int,
        typer.Option(min=1, metavar="K", help="Rows to report (after LD clumping when --clump)."),
    ] = 1000,
    clump: Annotated[bool, typer.Option(help="LD-clump the ranked pairs.")] = False,
    clump_r2: Annotated[float, typer.Option(help="Clumping r^2 threshold.")] = 0.5,
    clump_kb: Annotated[float, typer.Option(help="Clumping window in kb.")] = 250.0,
    plots: Annotated[
        Path | None,
        typer.Option(
            metavar="DIR", help="Folder for PNG plots (Manhattan-style plot, interaction arcs)."
        ),
    ] = None,
    maf: o.Maf = 0.0,
    geno: o.Geno = 1.0,
    mind: o.Mind = 1.0,
    progress: o.Progress = True,
    pfile: o.Pfile = None,
    cache_dir: o.CacheDir = None,
) -> None:
    """Test every pair of biallelic loci for interaction and write the ranked table."""
    from genoattn.data.load import load_dataset
    from genoattn.interpret.scan import scan as run_scan

    cfg = o.data_config(
        vcf, bfile, None, pheno, trait, covar, None, maf, geno, mind,
        pfile=pfile, cache_dir=cache_dir,
    )  # fmt: skip
    ds = load_dataset(cfg, progress=progress)
    if ds.binary:
        typer.echo("scan: case/control trait (0/1) tested with the linear model")
    # clumping absorbs rows: ask for more than --top, clump, then cut (as `export` does); the
    # surplus is bounded because clumping holds an r^2 matrix over the loci of these rows
    ask = min(top * 20, top + 2000) if clump else top
    res = run_scan(ds, test.value, top=ask, progress=progress)
    _write(res, ds, test.value, out, top, plots, (clump, clump_r2, clump_kb))


def _write(res, ds, test: str, out: Path, top: int, plots: Path | None, clumping) -> None:
    """Clump (optionally), cut to ``top`` rows, write in the column convention, plot."""
    from math import comb

    from genoattn.interpret.clump import clump as run_clump
    from genoattn.interpret.columns import scan_columns
    from genoattn.interpret.table import pair_table, triple_table, write_table

    clump, r2, kb = clumping
    if clump:
        asked = res.height
        res = run_clump(res, ds.cohort, r2=r2, window_kb=kb)
        if res.height < top:
            typer.echo(f"scan: {res.height} rows left after clumping the best {asked}")
    res = res.head(top)
    order = 3 if "idx_c" in res.columns else 2
    idx = [res[c].to_numpy() for c in ("idx_a", "idx_b", "idx_c")[:order]]
    stats = res.drop([c for c in ("idx_a", "idx_b", "idx_c") if c in res.columns])
    table = (pair_table if order == 2 else triple_table)(ds.cohort.loci, *idx, stats)
    n_tests = comb(int(ds.cohort.is_biallelic().sum()), order)
    table = scan_columns(table, test, n_tests)
    write_table(table, out)
    typer.echo(f"scan: wrote {table.height} {'pairs' if order == 2 else 'triples'} to {out}")
    if plots is not None:
        from genoattn.interpret.outputs import scan_figures

        figs = scan_figures(table, n_tests, plots, ds.cohort.loci.select("chrom", "pos", "id"))
        typer.echo(f"scan: plots in {plots}/ ({', '.join(p.name for p in figs)})")

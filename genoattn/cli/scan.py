"""``genoattn scan``: exhaustive pairwise interaction scan (PLINK 1.9 --epistasis compatible)."""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path
from typing import Annotated

import typer

from genoattn.cli import options as o
from genoattn.errors import GenoattnError

Top = Annotated[int, typer.Option(min=0, help="Keep the best TOP pairs (0: all that pass).")]
Clump = Annotated[bool, typer.Option(help="LD-clump the ranked pairs.")]
ClumpR2 = Annotated[float, typer.Option(help="Clumping r^2 threshold.")]
ClumpKb = Annotated[float, typer.Option(help="Clumping window in kb.")]


def scan(
    vcf: o.Vcf = None,
    bfile: o.Bfile = None,
    zarr: o.Zarr = None,
    pheno: o.Pheno = None,
    trait: o.Trait = None,
    covar: o.Covar = None,
    test: Annotated[
        o.InteractionTest,
        typer.Option(
            help="product: y ~ g_a + g_b + g_a*g_b (PLINK --epistasis); "
            "genotype: 4-df test of the 3x3 genotype classes."
        ),
    ] = o.InteractionTest.product,
    out: Annotated[
        Path, typer.Option(metavar="FILE", help="Output table (.tsv, or .parquet).")
    ] = Path("scan.tsv"),
    top: Annotated[
        int,
        typer.Option(
            min=0, metavar="K", help="Rows to report, after LD clumping when --clump (0: all)."
        ),
    ] = 1000,
    p_threshold: Annotated[
        float | None, typer.Option(help="Keep only pairs with P <= this (PLINK --epi1).")
    ] = None,
    clump: Clump = False,
    clump_r2: ClumpR2 = 0.5,
    clump_kb: ClumpKb = 250.0,
    plots: Annotated[
        Path | None,
        typer.Option(
            metavar="DIR", help="Folder for PNG plots (Manhattan-style plot, interaction arcs)."
        ),
    ] = None,
    shard: Annotated[
        str | None,
        typer.Option(
            help="Compute shard K/N of the tiles only; OUT (.parquet) is a partial "
            "table for `genoattn merge`."
        ),
    ] = None,  # fmt: skip
    workers: Annotated[
        int | None, typer.Option(min=1, help="Run the tiles on a Dask LocalCluster of N workers.")
    ] = None,
    scheduler: Annotated[
        str | None, typer.Option(help="Run the tiles on an existing Dask scheduler (ADDRESS).")
    ] = None,
    order: Annotated[
        int,
        typer.Option(
            min=2,
            max=3,
            help="2: pairs; 3: all triples (product: 1-df g_a*g_b*g_c term over all lower "
            "terms; genotype: 8-df 27-cell test against all pairwise genotype-class terms).",
        ),
    ] = 2,
    candidates: Annotated[
        str,
        typer.Option(
            help="--order 3: exhaustive (fast 8-df/1-df test of every triple) or contrast "
            "(cheaper contrast-score screen of every triple, its best 0.1 % rescored exactly).",
        ),
    ] = "exhaustive",
    maf: o.Maf = 0.0,
    geno: o.Geno = 1.0,
    mind: o.Mind = 1.0,
    progress: o.Progress = True,
    pfile: o.Pfile = None,
    cache_dir: o.CacheDir = None,
) -> None:
    """Test every pair (or triple) of biallelic loci for interaction; write the ranked table."""
    from genoattn.data.load import input_record, load_dataset
    from genoattn.interpret.scan.engine import run_scan
    from genoattn.interpret.scan.output import parse_shard, surplus, write_scan

    cfg = o.data_config(
        vcf, bfile, None, pheno, trait, covar, None, maf, geno, mind,
        pfile=pfile, cache_dir=cache_dir, zarr=zarr,
    )  # fmt: skip
    part = parse_shard(shard)
    if part and (out.suffix != ".parquet" or clump):
        raise GenoattnError("--shard writes a .parquet partial table; clump at `genoattn merge`")
    if order == 3 and (part or workers or scheduler):
        raise GenoattnError("--order 3 runs in one process for now (no --shard/--workers)")
    ds = load_dataset(cfg, progress=progress)
    if order == 3:
        if ds.binary:
            typer.echo("scan: case/control trait: 3-way tests use the linear model")
        clumping = (clump, clump_r2, clump_kb)
        _scan_triples(ds, test.value, top, clumping, out, plots, progress, candidates)
        return
    # clumping absorbs rows: every scan keeps a bounded surplus beyond --top, so a clumped
    # table (here, or at `genoattn merge` of shards) still reports --top rows
    with _client(workers, scheduler) as client:
        run = run_scan(
            ds, test.value, top=surplus(top or None), p_threshold=p_threshold,
            progress=progress, shard=part, client=client, scratch=str(out.parent),
            report=top or None, log=typer.echo,
        )  # fmt: skip
    if part:
        from genoattn.interpret.scan.shards import write_shard

        write_shard(run, out, input_record(cfg), part)
        typer.echo(
            f"scan: shard {shard}: {run.n_tests} tests, wrote {run.table.height} pairs to {out}"
        )
        return
    r2 = clump_r2 if clump else None
    rows = write_scan(ds, run, out, input_record(cfg), r2, clump_kb, plots)
    typer.echo(f"scan: {run.n_tests} tests, wrote {rows} pairs to {out}")


def _client(workers: int | None, scheduler: str | None):
    if workers is None and scheduler is None:
        return nullcontext(None)
    from genoattn.interpret.scan.distributed import dask_client

    return dask_client(workers, scheduler)


def _scan_triples(ds, test: str, top: int, clumping, out: Path, plots, progress: bool,
                  candidates: str = "exhaustive") -> None:  # fmt: skip
    """``--order 3``: every triple of biallelic loci (genoattn/stats/scan3.py)."""
    from math import comb

    from genoattn.interpret.clump import clump as run_clump
    from genoattn.interpret.columns import scan_columns
    from genoattn.interpret.scan.output import surplus
    from genoattn.interpret.table import triple_table, write_table
    from genoattn.stats.scan3 import scan_triples

    if top < 1:
        raise GenoattnError("--order 3 needs --top K >= 1 (there are C(L, 3) triples)")
    clump, r2, kb = clumping
    res = scan_triples(ds, test, top=surplus(top) if clump else top, progress=progress,
                       log=typer.echo, candidates=candidates)  # fmt: skip
    if clump:
        res = run_clump(res, ds.cohort, r2=r2, window_kb=kb)
    res = res.head(top)
    idx = [res[c].to_numpy() for c in ("idx_a", "idx_b", "idx_c")]
    table = triple_table(ds.cohort.loci, *idx, res.drop("idx_a", "idx_b", "idx_c"))
    n_tests = comb(int(ds.cohort.is_biallelic().sum()), 3)
    table = scan_columns(table, test, n_tests)
    write_table(table, out)
    typer.echo(f"scan: wrote {table.height} triples to {out}")
    if plots is not None:
        from genoattn.interpret.outputs import scan_figures

        figs = scan_figures(table, n_tests, plots, ds.cohort.loci.select("chrom", "pos", "id"))
        typer.echo(f"scan: plots in {plots}/ ({', '.join(p.name for p in figs)})")

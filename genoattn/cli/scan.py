"""``genoattn scan``: exhaustive pairwise interaction scan (PLINK 1.9 --epistasis compatible)."""

from __future__ import annotations

from contextlib import nullcontext
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from genoattn.cli import options as o
from genoattn.errors import GenoattnError


class TestKind(str, Enum):
    product = "product"
    genotype = "genotype"


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
        TestKind,
        typer.Option(
            help="product: y ~ g_a + g_b + g_a*g_b (PLINK --epistasis); "
            "genotype: 4-df test of the 3x3 genotype classes."
        ),
    ] = TestKind.product,
    out: Annotated[Path, typer.Option(help="Output table (.tsv, or .parquet).")] = Path("scan.tsv"),
    top: Top = 1000,
    p_threshold: Annotated[
        float | None, typer.Option(help="Keep only pairs with P <= this (PLINK --epi1).")
    ] = None,
    clump: Clump = False,
    clump_r2: ClumpR2 = 0.5,
    clump_kb: ClumpKb = 250.0,
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
    maf: o.Maf = 0.0,
    geno: o.Geno = 1.0,
    mind: o.Mind = 1.0,
    progress: o.Progress = True,
) -> None:
    """Test every pair of biallelic loci for interaction and write the ranked table."""
    from genoattn.data.load import input_record, load_dataset
    from genoattn.interpret.scan.engine import run_scan
    from genoattn.interpret.scan.output import parse_shard, write_scan

    cfg = o.data_config(vcf, bfile, None, pheno, trait, covar, None, maf, geno, mind, zarr=zarr)
    part = parse_shard(shard)
    if part and (out.suffix != ".parquet" or clump):
        raise GenoattnError("--shard writes a .parquet partial table; clump at `genoattn merge`")
    ds = load_dataset(cfg, progress=progress)
    with _client(workers, scheduler) as client:
        run = run_scan(
            ds, test.value, top=top or None, p_threshold=p_threshold, progress=progress,
            shard=part, client=client, scratch=str(out.parent), log=typer.echo,
        )  # fmt: skip
    if part:
        from genoattn.interpret.scan.shards import write_shard

        write_shard(run, out, input_record(cfg), part)
        typer.echo(
            f"scan: shard {shard}: {run.n_tests} tests, wrote {run.table.height} pairs to {out}"
        )
        return
    r2 = clump_r2 if clump else None
    rows = write_scan(ds, run, out, input_record(cfg), r2, clump_kb)
    typer.echo(f"scan: {run.n_tests} tests, wrote {rows} pairs to {out}")


def _client(workers: int | None, scheduler: str | None):
    if workers is None and scheduler is None:
        return nullcontext(None)
    from genoattn.interpret.scan.distributed import dask_client

    return dask_client(workers, scheduler)

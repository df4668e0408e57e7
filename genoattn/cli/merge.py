"""``genoattn merge``: combine the shards of a scan into the table one ``scan`` would write."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from genoattn.cli import options as o
from genoattn.cli.scan import Clump, ClumpKb, ClumpR2
from genoattn.errors import GenoattnError


def merge(
    shards: Annotated[list[Path], typer.Argument(help="Shard tables written by scan --shard K/N.")],
    out: Annotated[Path, typer.Option(help="Output table (.tsv, or .parquet).")] = Path("scan.tsv"),
    top: Annotated[
        int | None, typer.Option(min=1, help="Keep the best TOP pairs (default: the shards' top).")
    ] = None,
    clump: Clump = False,
    clump_r2: ClumpR2 = 0.5,
    clump_kb: ClumpKb = 250.0,
    progress: o.Progress = False,
) -> None:
    """Merge scan shards (all K of N, same inputs) into the ranked pair table."""
    from genoattn.data.load import config_from_record, input_record, load_dataset
    from genoattn.interpret.scan.output import write_scan
    from genoattn.interpret.scan.shards import merge_shards

    run, rec = merge_shards(shards, top)
    cfg = config_from_record(rec["inputs"])
    if input_record(cfg) != rec["inputs"]:
        raise GenoattnError("the scan's input files changed since the shards were written",
                            cfg.vcf or cfg.bfile or cfg.zarr)  # fmt: skip
    ds = load_dataset(cfg, progress=progress)  # locus table and, for clumping, the genotypes
    rows = write_scan(ds, run, out, rec["inputs"], clump_r2 if clump else None, clump_kb)
    typer.echo(f"merge: {len(shards)} shards, {run.n_tests} tests, wrote {rows} pairs to {out}")

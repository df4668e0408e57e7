"""``genoattn export``: ranked epistasis table of a fitted run."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer

from genoattn.cli import options as o


class ConfirmTest(str, Enum):
    product = "product"
    genotype = "genotype"


def export(
    run: Annotated[
        Path, typer.Argument(metavar="RUN", help="Run directory written by `genoattn fit`.")
    ],
    order: Annotated[
        int, typer.Option(metavar="2|3", help="2: pairs; 3: triples (HyperAttention runs).")
    ] = 2,
    top: Annotated[
        int, typer.Option(min=1, metavar="K", help="Rows to report after LD clumping.")
    ] = 50,
    out: Annotated[
        Path,
        typer.Option(
            metavar="FILE",
            help="Table: .tsv (default) or .parquet. The allele-level "
            "long table goes beside it as *.alleles.tsv.",
        ),
    ] = Path("epistasis.tsv"),
    plots: Annotated[
        Path | None,
        typer.Option(
            metavar="DIR",
            help="Folder for PNG plots: interaction heatmaps, genome-wide interaction arcs, "
            "score by position, training curve or penalty path.",
        ),
    ] = None,
    clump_r2: Annotated[float, typer.Option(help="LD clumping: r^2 threshold.")] = 0.5,
    clump_kb: Annotated[float, typer.Option(help="LD clumping: window in kb.")] = 250.0,
    test: Annotated[
        ConfirmTest,
        typer.Option(
            help="Held-out confirmation test: genotype (4-df, "
            "sees dominance and pure epistasis) or "
            "product (1-df)."
        ),
    ] = ConfirmTest.genotype,
    condition: Annotated[
        str,
        typer.Option(
            help="Held-out test conditioned on local main effects within --clump-kb: "
            "none, selected (the fit's main-effect loci) or all (every locus)."
        ),
    ] = "none",
    progress: o.Progress = True,
    cache_dir: o.CacheDir = None,
) -> None:
    """Rank a run's learned interactions, clump them by LD and confirm them on held-out samples."""
    from genoattn.config import ExportConfig
    from genoattn.data.load import load_dataset
    from genoattn.interpret.export import export_pairs, export_triples
    from genoattn.interpret.outputs import write_export
    from genoattn.system.rundir import load_run

    cfg = ExportConfig(order=order, top=top, clump_r2=clump_r2, clump_kb=clump_kb, test=test.value,
                       condition=condition)  # fmt: skip
    r = load_run(run)
    if cache_dir is not None:
        r.cfg.data.cache_dir = str(cache_dir)
    ds = load_dataset(r.cfg.data, progress=progress, log=typer.echo)
    if order == 3:
        res = export_triples(r, ds, cfg, log=typer.echo)
    else:
        res = export_pairs(r, ds, cfg, log=typer.echo, progress=progress)
    write_export(res, r, ds, out, plots, log=typer.echo)

"""``genoattn export``: ranked epistasis table of a fitted run."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer


class ConfirmTest(str, Enum):
    product = "product"
    genotype = "genotype"


def export(
    run: Annotated[Path, typer.Argument(help="Run directory written by `genoattn fit`.")],
    order: Annotated[int, typer.Option(help="2: pairs; 3: triples (HyperAttention runs).")] = 2,
    top: Annotated[int, typer.Option(min=1, help="Rows to report after LD clumping.")] = 50,
    out: Annotated[
        Path,
        typer.Option(
            help="Table: .tsv (default) or .parquet. The allele-level "
            "long table goes beside it as *.alleles.tsv."
        ),
    ] = Path("epistasis.tsv"),
    plots: Annotated[
        Path | None,
        typer.Option(help="Folder for PNG plots (heatmaps, score by position, training curve)."),
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
    progress: Annotated[bool, typer.Option(help="Show progress bars.")] = False,
) -> None:
    """Rank a run's learned interactions, clump them by LD and confirm them on held-out samples."""
    import polars as pl

    from genoattn.config import ExportConfig
    from genoattn.data.load import load_dataset
    from genoattn.errors import GenoattnError
    from genoattn.interpret import plots as plot
    from genoattn.interpret.export import export_pairs, export_triples
    from genoattn.interpret.table import write_table
    from genoattn.system.rundir import load_run

    cfg = ExportConfig(order=order, top=top, clump_r2=clump_r2, clump_kb=clump_kb, test=test.value)
    r = load_run(run)
    ds = load_dataset(r.cfg.data, progress=progress, log=typer.echo)
    res = (export_triples if order == 3 else export_pairs)(r, ds, cfg, log=typer.echo)
    if plots is not None:
        try:
            plots.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise GenoattnError(f"cannot create the plot folder ({e.strerror})", plots) from None
    write_table(res.table, out)
    stem = out.name.removesuffix(".parquet").removesuffix(".tsv")
    alleles = out.with_name(
        stem + ".alleles" + (".parquet" if out.suffix == ".parquet" else ".tsv")
    )
    write_table(res.alleles, alleles)
    typer.echo(
        f"export: wrote {res.table.height} interactions to {out} and allele effects to {alleles}"
    )
    if plots is not None:
        loci = ds.cohort.loci
        if order == 2:
            labels = [
                (loci["states"][int(a)].to_list(), loci["states"][int(b)].to_list())
                for a, b in res.pairs
            ]
            plot.heatmaps(res.table, res.tables, labels, plots / "top_pairs.png")
        plot.manhattan(res.scores_by_locus, plots / "score_by_position.png")
        hist = pl.read_csv(r.path / "history.tsv", separator="\t")
        plot.training_curve(hist, plots / "training_curve.png")
        typer.echo(f"export: plots in {plots}/")

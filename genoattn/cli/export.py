"""``genoattn export``: ranked epistasis table of a fitted run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from genoattn.cli import options as o


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
        o.InteractionTest,
        typer.Option(
            help="Held-out confirmation test: genotype (4-df, "
            "sees dominance and pure epistasis) or "
            "product (1-df)."
        ),
    ] = o.InteractionTest.genotype,
    condition: Annotated[
        str,
        typer.Option(
            help="Held-out test conditioned on local main effects within --clump-kb: "
            "none, selected (the fit's main-effect loci), all (every locus) or cis (the "
            "default; every locus, for pairs within --clump-kb of each other only)."
        ),
    ] = "cis",
    screened: Annotated[
        bool,
        typer.Option(
            "--screened/--model-only",
            help="Sparse fits: after the model's pairs, list the other pairs by the fit's "
            "screen on its training + validation samples (IN_MODEL false).",
        ),
    ] = True,
    progress: o.Progress = True,
    cache_dir: o.CacheDir = None,
    vcf: o.MovedVcf = None,
    bfile: o.MovedBfile = None,
    pfile: o.MovedPfile = None,
    zarr: o.MovedZarr = None,
    fasta: o.MovedFasta = None,
    pheno: o.MovedPheno = None,
    covar: o.MovedCovar = None,
) -> None:
    """Rank a run's learned interactions, clump them by LD and confirm them on held-out samples."""
    from genoattn.config import ExportConfig
    from genoattn.data.inputs import with_inputs
    from genoattn.data.load import load_dataset
    from genoattn.interpret.export import export as export_run
    from genoattn.interpret.outputs import write_export
    from genoattn.system.rundir import load_run

    cfg = ExportConfig(order=order, top=top, clump_r2=clump_r2, clump_kb=clump_kb, test=test.value,
                       condition=condition, screened=screened)  # fmt: skip
    r = load_run(run)
    moved = dict(vcf=vcf, bfile=bfile, pfile=pfile, zarr=zarr, fasta=fasta, pheno=pheno)
    r.cfg.data = with_inputs(r.cfg.data, **moved, covar=covar, cache_dir=cache_dir)
    ds = load_dataset(r.cfg.data, progress=progress, log=typer.echo)
    res = export_run(r, ds, cfg, log=typer.echo, progress=progress)
    write_export(res, r, ds, out, plots, log=typer.echo)

"""``genoattn report``: one self-contained HTML page about a fitted run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from genoattn.cli import options as o


def report(
    run: Annotated[
        Path, typer.Argument(metavar="RUN", help="Run directory written by `genoattn fit`.")
    ],
    out: Annotated[Path, typer.Option(metavar="FILE", help="HTML file to write.")] = Path(
        "report.html"
    ),
    top: Annotated[
        int, typer.Option(min=1, metavar="K", help="Interactions to export and show.")
    ] = 20,
    scan_table: Annotated[
        Path | None,
        typer.Option(
            "--scan",
            metavar="FILE",
            help="A `genoattn scan` table to show beside the export.",
            show_default=False,
        ),
    ] = None,  # fmt: skip
    progress: o.Progress = True,
    cache_dir: o.CacheDir = None,
) -> None:
    """Write a self-contained HTML report: settings, samples and QC, metrics, tables and plots."""
    from genoattn.interpret.report import build_report

    build_report(run, out, top=top, scan=scan_table, cache_dir=cache_dir, progress=progress,
                 log=typer.echo)  # fmt: skip

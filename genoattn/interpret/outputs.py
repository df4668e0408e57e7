"""Writing what ``export`` and ``scan`` produce: tables in the column convention, and figures.

The tables go through :mod:`genoattn.interpret.columns` (names, types, NA) and
:func:`genoattn.interpret.table.write_table` (6 significant digits); the figures through
:mod:`genoattn.interpret.plots`.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl

from genoattn.contract import MISSING, Dataset
from genoattn.errors import GenoattnError
from genoattn.interpret import plots as plot
from genoattn.interpret.columns import (
    allele_columns,
    export_columns,
    locus_genotype_labels,
    unit,
)
from genoattn.interpret.export import Export, split_rows
from genoattn.interpret.table import write_table
from genoattn.system.rundir import Run


def export_tables(res: Export, ds: Dataset) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The export's ranked table and allele long table, in the column convention."""
    table = export_columns(res.table, res.test, res.binary)
    return table, allele_columns(res.alleles, ds.cohort.loci, res.binary)


def _mkdir(folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise GenoattnError(f"cannot create the plot folder ({e.strerror})", folder) from None


def alleles_path(out: Path) -> Path:
    """``table.tsv`` -> ``table.alleles.tsv`` (``.parquet`` likewise)."""
    stem = out.name.removesuffix(".parquet").removesuffix(".tsv")
    return out.with_name(stem + ".alleles" + (".parquet" if out.suffix == ".parquet" else ".tsv"))


def write_export(
    res: Export,
    run: Run,
    ds: Dataset,
    out: Path,
    plots: Path | None = None,
    log: Callable[[str], None] = print,
) -> list[Path]:
    """Write the ranked table, the allele table beside it and (``plots``) the figures."""
    if plots is not None:
        _mkdir(plots)
    table, alleles = export_tables(res, ds)
    write_table(table, out)
    write_table(alleles, alleles_path(out))
    log(
        f"export: wrote {table.height} interactions to {out} and allele effects to "
        f"{alleles_path(out)}"
    )
    if plots is None:
        return [out, alleles_path(out)]
    figs = export_figures(res, table, run, ds, plots)
    log(f"export: plots in {plots}/ ({', '.join(p.name for p in figs)})")
    return [out, alleles_path(out), *figs]


def observed_cells(ds: Dataset, rows: np.ndarray, pairs: np.ndarray, m: int) -> np.ndarray:
    """(k, m, m) bool: the pair's genotype combination occurs in ``rows`` (both loci called)."""
    out = np.zeros((len(pairs), m, m), dtype=bool)
    st = ds.cohort.states[rows]
    for i, (a, b) in enumerate(pairs.tolist()):
        ga, gb = st[:, a].astype(np.int64), st[:, b].astype(np.int64)
        ok = (ga != MISSING) & (gb != MISSING)
        out[i, ga[ok], gb[ok]] = True
    return out


def heatmap_panels(res: Export, table: pl.DataFrame, run: Run, ds: Dataset, n: int = 9):
    """Heatmap panels of the top ``n`` pairs, cells never seen in training set to NaN."""
    loci = ds.cohort.loci
    k = min(n, len(res.pairs))
    if "IN_MODEL" in table.columns:  # screened rows (screened.py) have no effect table to draw
        k = min(k, int(table["IN_MODEL"].sum()))
    m = res.tables.shape[-1] if k else 1
    seen = observed_cells(ds, split_rows(run, ds, "train"), res.pairs[:k], m)
    panels = []
    for i in range(k):
        a, b = (int(x) for x in res.pairs[i])
        la, lb = locus_genotype_labels(loci, a), locus_genotype_labels(loci, b)
        v = np.where(seen[i], res.tables[i], np.nan)[: len(la), : len(lb)]
        p = table["P"][i]
        panels.append(
            plot.Heatmap(
                f"#{i + 1} {loci['id'][a]} × {loci['id'][b]}", la, lb,
                f"{loci['id'][a]} (chr{loci['chrom'][a]}:{loci['pos'][a]})",
                f"{loci['id'][b]} (chr{loci['chrom'][b]}:{loci['pos'][b]})",
                v, None if p is None else float(p),
            )
        )  # fmt: skip
    return panels


def export_figures(
    res: Export, table: pl.DataFrame, run: Run, ds: Dataset, folder: Path
) -> list[Path]:
    """top_pairs.png, interaction_arcs.png, score_by_position.png and the fit's path/curve."""
    loci = ds.cohort.loci
    out = []
    if res.pairs.shape[1] == 2:
        panels = heatmap_panels(res, table, run, ds)
        out.append(plot.heatmaps(panels, folder / "top_pairs.png", unit(res.binary)))
        out.append(plot.interaction_arcs(table, loci, folder / "interaction_arcs.png"))
    pts = res.scores_by_locus.rename({"score": "value"})
    out.append(
        plot.manhattan(
            pts, loci, folder / "score_by_position.png",
            f"best interaction score ({'log-odds' if res.binary else 'trait'} units²)",
            title="Best learned interaction score of each locus (pairs it belongs to)",
        )
    )  # fmt: skip
    out.append(fit_figure(run.path, folder))
    return out


def fit_figure(run_dir: Path, folder: Path) -> Path:
    """selection_path.png for sparse fits (selection.tsv), else training_curve.png."""
    sel = Path(run_dir) / "selection.tsv"
    if sel.is_file():
        return plot.selection_path(pl.read_csv(sel, separator="\t"), folder / "selection_path.png")
    hist = pl.read_csv(Path(run_dir) / "history.tsv", separator="\t")
    return plot.training_curve(hist, folder / "training_curve.png")


def table_loci(table: pl.DataFrame) -> pl.DataFrame:
    """chrom/pos/id of every locus named in a presented table (the axis of a plot from a table)."""
    parts = [
        table.select(
            pl.col(f"CHROM_{s}").cast(pl.String).alias("chrom"),
            pl.col(f"POS_{s}").alias("pos"),
            pl.col(f"ID_{s}").alias("id"),
        )
        for s in "ABC"
        if f"ID_{s}" in table.columns
    ]
    return pl.concat(parts).unique("id", maintain_order=True) if parts else pl.DataFrame()


def scan_figures(
    table: pl.DataFrame, n_tests: int, folder: Path, loci: pl.DataFrame | None = None
) -> list[Path]:
    """Manhattan (best -log10 P of each locus over the reported tuples) and the arc plot.

    table: a presented scan table; loci: chrom/pos of all scanned loci (default: those in the
    table), for the genome axis.
    """
    _mkdir(folder)
    named = table_loci(table)
    loci = named if loci is None else loci.with_columns(pl.col("chrom").cast(pl.String))
    loci = loci.sort(pl.col("chrom").cast(pl.Int64, strict=False), "chrom", "pos")
    best = (
        pl.concat(
            [
                table.select(pl.col(f"ID_{s}").alias("id"), pl.col("LOG10P").alias("value"))
                for s in "ABC"
                if f"ID_{s}" in table.columns
            ]
        )
        .group_by("id")
        .agg(pl.col("value").max())
    )
    pts = named.join(best, on="id").sort(pl.col("chrom").cast(pl.Int64, strict=False), "pos")
    thr = -np.log10(0.05 / max(n_tests, 1))
    out = [
        plot.manhattan(
            pts, loci, folder / "scan_manhattan.png", "best −log10 P of its pairs",
            threshold=thr, title=f"Interaction scan: {table.height} best of {n_tests:,} tests",
        )
    ]  # fmt: skip
    if "ID_C" not in table.columns:
        out.append(
            plot.interaction_arcs(
                table.head(200), loci, folder / "scan_arcs.png", cbar="−log10 P (scan)"
            )
        )
    return out

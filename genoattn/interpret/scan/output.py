"""Write a scan's table (optionally LD-clumped) and its record, as ``scan`` and ``merge`` do."""

from __future__ import annotations

from pathlib import Path

from genoattn.contract import Dataset
from genoattn.errors import GenoattnError
from genoattn.interpret.scan.engine import ScanRun
from genoattn.interpret.scan.shards import record, write_record


def parse_shard(text: str | None) -> tuple[int, int] | None:
    """``"K/N"`` -> (K, N) with 1 <= K <= N, or None."""
    if text is None:
        return None
    try:
        k, n = (int(v) for v in text.split("/"))
    except ValueError:
        raise GenoattnError(f"--shard must be K/N (e.g. 3/8), got {text!r}") from None
    if not 1 <= k <= n:
        raise GenoattnError(f"--shard K/N needs 1 <= K <= N, got {text!r}")
    return k, n


def surplus(top: int | None) -> int | None:
    """Rows a scan keeps so that LD clumping still leaves ``top`` rows to report. Bounded:
    clumping holds an r^2 matrix over the loci of these rows."""
    return None if top is None else min(top * 20, top + 2000)


def write_scan(
    ds: Dataset,
    run: ScanRun,
    out: str | Path,
    inputs: dict,
    clump_r2: float | None = None,
    clump_kb: float = 250.0,
    plots: str | Path | None = None,
) -> int:
    """Write the ranked pair table in the column convention (clumped when ``clump_r2`` is
    given, then cut to the spec's ``report`` rows) and ``<out>.scan.json`` (test, top, tile grid,
    number of tests for multiplicity, inputs); plots into ``plots``. Returns the rows written."""
    from genoattn.interpret.clump import clump
    from genoattn.interpret.columns import scan_columns
    from genoattn.interpret.table import pair_table, write_table

    res = run.table
    if clump_r2 is not None:
        res = clump(res, ds.cohort, r2=clump_r2, window_kb=clump_kb)
    keep = run.spec.report or run.spec.top
    res = res if keep is None else res.head(keep)
    stats = res.drop("idx_a", "idx_b")
    table = pair_table(ds.cohort.loci, res["idx_a"].to_numpy(), res["idx_b"].to_numpy(), stats)
    table = scan_columns(table, run.spec.test, run.n_tests)
    write_table(table, out)
    if plots is not None:
        from genoattn.interpret.outputs import scan_figures

        loci = ds.cohort.loci.select("chrom", "pos", "id")
        scan_figures(table, run.n_tests, Path(plots), loci)
    rec = record(run, inputs, None)
    rec["clump"] = None if clump_r2 is None else {"r2": clump_r2, "kb": clump_kb}
    write_record(rec, out)
    return table.height

"""Stability of reported interactions: the selection frequency of each pair or triple.

Axis legend: k tuples, order 2 or 3.

A sparse fit with ``selection: cv`` records, in ``selection.tsv`` (stage ``stability``), the
fraction of cross-validation folds whose fit at the chosen penalty keeps each tuple of the final
model (each fold screens and fits its own training part; ``genoattn/sparse/cv.py``). A pair the
fit would pick again on most resamples of the data (``SEL_FREQ`` near 1) is a stable finding; one
chosen in a single fold is fragile, whatever its held-out p. Runs fit with ``selection:
holdout`` (or by sgd) have no such record: their ``SEL_FREQ`` is missing (NA).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl


def selection_frequencies(run_dir: str | Path) -> dict[tuple[int, ...], float]:
    """(sorted cohort locus indices) -> selection frequency, from the run's selection.tsv; empty
    when the run has no stability record."""
    sel = Path(run_dir) / "selection.tsv"
    if not sel.is_file():
        return {}
    frame = pl.read_csv(sel, separator="\t", infer_schema_length=None)
    if "sel_freq" not in frame.columns:
        return {}
    rows = frame.filter(pl.col("stage") == "stability")
    return {
        tuple(sorted(int(i) for i in str(t).split("|"))): float(f)
        for t, f in zip(rows["tuple"].to_list(), rows["sel_freq"].to_list(), strict=True)
    }


def selection_frequency(run_dir: str | Path, tuples: np.ndarray) -> pl.Series:
    """``SEL_FREQ`` of each tuple (shape (k, order), cohort locus indices), Float64, null where the
    run has no record of it (holdout selection, sgd fits, a tuple the fit did not keep)."""
    freq = selection_frequencies(run_dir)
    values = [freq.get(tuple(sorted(int(i) for i in t))) for t in np.asarray(tuples).tolist()]
    return pl.Series("sel_freq", values, dtype=pl.Float64)

"""Interaction tables: locus columns shared by ``export`` and ``scan``; atomic TSV/Parquet output.

A pair table starts with chrom_a, pos_a, id_a, ref_a, alt_a, chrom_b, ... (and _c for triples),
followed by the caller's statistics columns, in the caller's row order.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from genoattn.atomic import atomic_path
from genoattn.errors import GenoattnError

LOCUS_FIELDS = ("chrom", "pos", "id", "ref", "alt")


def locus_columns(loci: pl.DataFrame, idx: np.ndarray, suffix: str) -> pl.DataFrame:
    """Locus metadata of rows ``idx`` (shape (k,), int): columns chrom_<s>, pos_<s>, id_<s>, ..."""
    idx = np.asarray(idx, dtype=np.int64).reshape(-1)
    sub = loci.select(LOCUS_FIELDS)[idx.tolist()] if len(idx) else loci.select(LOCUS_FIELDS).clear()
    return sub.rename({f: f"{f}_{suffix}" for f in LOCUS_FIELDS})


def tuple_table(
    loci: pl.DataFrame, idx: list[np.ndarray], extra: pl.DataFrame | None = None
) -> pl.DataFrame:
    """Locus columns of each locus of each tuple (index arrays of shape (k,), one per locus,
    suffixes _a, _b, _c), then ``extra``'s columns."""
    parts = [locus_columns(loci, i, s) for i, s in zip(idx, "abc", strict=False)]
    k = parts[0].height
    assert all(p.height == k for p in parts), "index arrays of different lengths"
    if extra is not None:
        assert extra.height == k, (extra.height, k)
        parts.append(extra)
    return pl.concat(parts, how="horizontal")


def pair_table(
    loci: pl.DataFrame, idx_a: np.ndarray, idx_b: np.ndarray, extra: pl.DataFrame | None = None
) -> pl.DataFrame:
    """Locus columns of both loci of each pair (index arrays of shape (k,)), then ``extra``."""
    return tuple_table(loci, [idx_a, idx_b], extra)


def triple_table(
    loci: pl.DataFrame,
    idx_a: np.ndarray,
    idx_b: np.ndarray,
    idx_c: np.ndarray,
    extra: pl.DataFrame | None = None,
) -> pl.DataFrame:
    """Locus columns of the three loci of each triple, then ``extra``'s columns."""
    return tuple_table(loci, [idx_a, idx_b, idx_c], extra)


def _sig6(values: np.ndarray) -> list[str | None]:
    """Floats as text with 6 significant digits (``%.6g``); NaN as None (written ``NA``)."""
    out = np.char.mod("%.6g", np.nan_to_num(values, nan=0.0, posinf=np.inf, neginf=-np.inf))
    return [None if np.isnan(v) else t for v, t in zip(values, out.tolist(), strict=True)]


def tsv_text(df: pl.DataFrame) -> pl.DataFrame:
    """``df`` with float columns as 6-significant-digit text and NaN/"" as null (TSV ``NA``).

    Integer columns stay integers; strings are kept, except that empty strings become null so
    that no cell is a literal "" (and no cell needs quoting: tabs/newlines never occur in them).
    """
    fix = []
    for name, dt in df.schema.items():
        if dt.is_float():
            v = df[name].cast(pl.Float64).fill_null(float("nan")).to_numpy()
            fix.append(pl.Series(name, _sig6(v), dtype=pl.String))
        elif dt == pl.String:
            fix.append(df[name].replace("", None))
    return df.with_columns(fix) if fix else df


def write_table(df: pl.DataFrame, path: str | Path) -> Path:
    """Write ``df`` as Parquet when ``path`` ends in .parquet, else as TSV, atomically.

    Parquet keeps the typed columns; the TSV prints floats to 6 significant digits, integers as
    integers and missing values as ``NA`` (:func:`tsv_text`).

    The table goes to a temporary file in the same directory, then replaces ``path`` in one
    step, so a reader never sees a half-written table. Raises GenoattnError if unwritable.
    """
    path = Path(path)
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise GenoattnError("output directory does not exist", parent)
    if path.is_dir():
        raise GenoattnError("is a directory, expected an output file name", path)
    try:
        with atomic_path(path) as tmp:
            if path.suffix.lower() == ".parquet":
                df.write_parquet(tmp)
            else:
                tsv_text(df).write_csv(tmp, separator="\t", null_value="NA", quote_style="never")
    except OSError as e:
        raise GenoattnError(f"cannot write table ({e.strerror})", path) from None
    return path

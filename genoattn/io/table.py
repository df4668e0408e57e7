"""Phenotype and covariate tables through polars, with PLINK conventions.

Format: TSV, CSV or whitespace-delimited (sniffed from the first line). Header forms accepted:

* ``FID IID ...``, ``#FID IID ...``, ``#IID ...`` or ``IID ...``: the IID column holds sample IDs;
* a header without FID/IID (e.g. ``sample height``): the first column holds sample IDs;
* no header (classic PLINK ``FID IID value...``): detected when the first line's third and later
  fields are numbers or missing codes; the value columns are named PHENO1, PHENO2, ...

Missing values: ``-9``, ``NA``, ``nan``, ``.``, empty (case-insensitive). Binary traits: values only
in {1, 2} (PLINK 1 = control, 2 = case; coded 0/1) or only in {0, 1}. A trait whose values are
exactly {0, 1, 2} is refused: PLINK would read it as case/control with 0 = missing, but it may as
well be a 0/1/2 score, and guessing either way silently changes the analysis (recode missing
values as NA or -9 for case/control). Any other numeric column is quantitative. Infinite values
(``inf``) are refused.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from genoattn.contract import Trait
from genoattn.errors import GenoattnError, require_file

MISSING_CODES = {"-9", "-9.0", "na", "nan", ".", "", "null", "none"}


def _is_num_or_missing(s: str) -> bool:
    if s.strip().lower() in MISSING_CODES:
        return True
    try:
        float(s)
    except ValueError:
        return False
    return True


def _split(path: Path) -> list[list[str]]:
    """Rows of string fields. TSV/CSV go through polars (quoting handled); whitespace is split."""
    import polars as pl

    try:
        text = path.read_text()
    except UnicodeDecodeError:
        raise GenoattnError("not a text table (cannot decode as UTF-8)", path) from None
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise GenoattnError("table is empty", path)
    sep = "\t" if "\t" in lines[0] else "," if "," in lines[0] else None
    if sep is None:
        rows = [ln.split() for ln in lines]
    else:
        try:
            frame = pl.read_csv(path, separator=sep, has_header=False, infer_schema=False)
        except pl.exceptions.PolarsError as e:
            raise GenoattnError(f"cannot parse table ({str(e).splitlines()[0]})", path) from None
        rows = [[("" if v is None else v.strip()) for v in r] for r in frame.iter_rows()]
        rows = [r for r in rows if any(r)]
    width = len(rows[0])
    for i, r in enumerate(rows):
        if len(r) != width:
            raise GenoattnError(
                f"line {i + 1} has {len(r)} fields, the first line has {width}", path
            )
    return rows


def read_table(path: str | Path) -> tuple[np.ndarray, dict[str, list[str]]]:
    """Parse a PLINK-style table into (sample IDs, shape (n,) object; value columns as strings).

    Raises GenoattnError for a missing/empty file, ragged lines, no value column or duplicate IDs.
    """
    path = require_file(path)
    rows = _split(path)
    head = [h.lstrip("#") for h in rows[0]]
    upper = [h.upper() for h in head]
    headerless = (
        not rows[0][0].startswith("#")
        and "IID" not in upper
        and len(head) >= 3
        and all(_is_num_or_missing(v) for v in head[2:])
    )
    if headerless:
        head = ["FID", "IID"] + [f"PHENO{i}" for i in range(1, len(head) - 1)]
        upper = [h.upper() for h in head]
        body = rows
    else:
        body = rows[1:]
    if not body:
        raise GenoattnError("table has a header but no rows", path)
    if len(set(head)) != len(head):
        raise GenoattnError(f"duplicate column names in header {head}", path)
    columns = {h: [r[j] for r in body] for j, h in enumerate(head)}
    id_col = head[upper.index("IID")] if "IID" in upper else head[0]
    drop = {id_col} | ({head[upper.index("FID")]} if "FID" in upper else set())
    values = {h: v for h, v in columns.items() if h not in drop}
    if not values:
        raise GenoattnError(f"no value columns besides the sample IDs (columns {head})", path)
    ids = np.asarray(columns[id_col], dtype=object)
    uniq, counts = np.unique(ids.astype(str), return_counts=True)
    if (counts > 1).any():
        raise GenoattnError(f"duplicate sample IDs {uniq[counts > 1][:5].tolist()}", path)
    return ids, values


def to_numeric(raw: list[str], column: str, path: Path) -> np.ndarray:
    """shape (n,), float64 with NaN for missing codes; GenoattnError on non-numeric text."""
    out = np.empty(len(raw), dtype=np.float64)
    for i, v in enumerate(raw):
        if v.strip().lower() in MISSING_CODES:
            out[i] = np.nan
            continue
        try:
            out[i] = float(v)
        except ValueError:
            raise GenoattnError(f"column {column!r} is not numeric (value {v!r})", path) from None
        if not np.isfinite(out[i]):
            raise GenoattnError(
                f"column {column!r} has a non-finite value {v!r} (row {i + 1} of the values)", path
            )
    out[out == -9] = np.nan
    return out


def binary_coding(values: np.ndarray, column: str = "", path: Path | None = None):
    """0/1 coded copy of a case/control column (NaN kept), or None for a quantitative trait.

    Raises GenoattnError for values exactly {0, 1, 2} (ambiguous, see the module docstring).
    """
    seen = set(np.unique(values[~np.isnan(values)]).tolist())
    if seen == {1.0, 2.0}:
        return values - 1.0
    if seen == {0.0, 1.0}:
        return values.copy()
    if seen == {0.0, 1.0, 2.0}:
        raise GenoattnError(
            f"trait column {column!r} takes only the values 0, 1, 2: ambiguous (PLINK reads "
            "case/control 1/2 with 0 = missing); for case/control write missing values as NA "
            "or -9, for a quantitative score use another coding",
            path,
        )
    return None


def read_trait(
    path: str | Path,
    trait: str | None = None,
    covar_path: str | Path | None = None,
    covar_names: list[str] | None = None,
) -> Trait:
    """Read one trait (and optional covariates) keyed by IID.

    Args:
        path: phenotype table.
        trait: column name; the first value column when None.
        covar_path: optional covariate table, matched to the phenotype samples by IID.
        covar_names: covariate columns to use; all numeric columns when None.

    Returns:
        Trait: values shape (n,) float64 (NaN missing; binary coded 0/1); covariates shape (n, c)
        float64, NaN where a sample has no covariate row or a missing value.

    Raises:
        GenoattnError: unknown trait/covariate column (listing the available ones), non-numeric or
            all-missing trait, duplicate IDs, unreadable file.
    """
    path = Path(path)
    ids, cols = read_table(path)
    name = trait if trait is not None else next(iter(cols))
    if name not in cols:
        raise GenoattnError(f"unknown trait column {name!r}; available: {list(cols)}", path)
    values = to_numeric(cols[name], name, path)
    if np.isnan(values).all():
        raise GenoattnError(f"trait column {name!r} has no non-missing values", path)
    coded = binary_coding(values, name, path)
    covars, covar_cols = read_covariates(covar_path, covar_names, ids)
    return Trait(
        samples=ids,
        values=coded if coded is not None else values,
        name=name,
        binary=coded is not None,
        covariates=covars,
        covariate_names=tuple(covar_cols),
    )


def read_covariates(
    covar_path: str | Path | None, names: list[str] | None, ids: np.ndarray
) -> tuple[np.ndarray, list[str]]:
    """Covariates of samples ``ids`` (shape (n, c), NaN where missing) and their column names."""
    if covar_path is None:
        if names:
            raise GenoattnError(f"covariates {names} requested but no covariate file given")
        return np.zeros((len(ids), 0)), []
    cpath = Path(covar_path)
    cids, cols = read_table(cpath)
    if names is None:
        chosen = [c for c in cols if all(_is_num_or_missing(v) for v in cols[c])]
    else:
        unknown = [c for c in names if c not in cols]
        if unknown:
            raise GenoattnError(
                f"unknown covariate column(s) {unknown}; available: {list(cols)}", cpath
            )
        chosen = list(names)
    mat = np.column_stack([to_numeric(cols[c], c, cpath) for c in chosen]) if chosen else None
    out = np.full((len(ids), len(chosen)), np.nan)
    if mat is not None:
        where = {s: i for i, s in enumerate(cids.tolist())}
        for i, s in enumerate(ids.tolist()):
            j = where.get(s)
            if j is not None:
                out[i] = mat[j]
    return out, chosen

"""The one column convention of every table genoattn writes (``scan``, ``export``, allele tables).

The computing code keeps its internal names (``idx_a``, ``BETA_INT``, ``heldout_p``, ``score``);
the writers call the functions here at write time. Names follow plink2 / regenie where those
tools have one, upper case, one suffix per locus (``_A``, ``_B``, ``_C``):

    RANK  CHROM_A POS_A ID_A REF_A ALT_A  CHROM_B ...  [SCORE N_TAGGED TAGGED]
    TEST  N  BETA | PARTIAL_R2  SE  STAT  DF1  DF2  P  LOG10P  P_BONF  UNIT  NOTE

Floats are float64 with missing values as null (never NaN, never ""), counts are Int64; the TSV
writer (``table.write_table``) prints 6 significant digits and ``NA``. The README section
"Tables, figures and the report" documents each column.
"""

from __future__ import annotations

import numpy as np
import polars as pl

SUFFIXES = ("A", "B", "C")
LOCUS_FIELDS = ("chrom", "pos", "id", "ref", "alt")


def unit(binary: bool) -> str:
    """Scale of effects: trait units (quantitative traits) or log-odds (case/control traits)."""
    return "log-odds" if binary else "trait"


def _locus_renames(columns: list[str]) -> dict[str, str]:
    out = {}
    for f in LOCUS_FIELDS:
        for s in SUFFIXES:
            if f"{f}_{s.lower()}" in columns:
                out[f"{f}_{s.lower()}"] = f"{f.upper()}_{s}"
    return out


def _clean(df: pl.DataFrame) -> pl.DataFrame:
    """NaN -> null in float columns, "" -> null in string columns, df columns as Int64."""
    fix = []
    for name, dt in df.schema.items():
        if dt.is_float():
            fix.append(pl.col(name).fill_nan(None))
        elif dt == pl.String:
            fix.append(pl.when(pl.col(name) == "").then(None).otherwise(pl.col(name)).alias(name))
    df = df.with_columns(fix) if fix else df
    ints = [c for c in ("N", "DF1", "DF2", "RANK", "N_TAGGED", "POS_A", "POS_B", "POS_C")]
    return df.with_columns(
        [pl.col(c).cast(pl.Float64).round(0).cast(pl.Int64) for c in ints if c in df.columns]
    )


def _p_columns(p: pl.Series, n_tests: int) -> list[pl.Series]:
    """LOG10P = -log10 P (regenie's convention) and P_BONF = min(1, P * n_tests)."""
    pv = p.cast(pl.Float64).fill_nan(None).to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        log10p = -np.log10(pv)
    # P underflowing to 0: LOG10P is infinite; print the largest finite value instead of "inf"
    log10p = np.where(np.isposinf(log10p), -np.log10(np.finfo(np.float64).tiny), log10p)
    bonf = np.minimum(1.0, pv * max(1, n_tests))
    return [
        pl.Series("LOG10P", log10p, dtype=pl.Float64).fill_nan(None),
        pl.Series("P_BONF", bonf, dtype=pl.Float64).fill_nan(None),
    ]


def _order(df: pl.DataFrame, first: list[str], last: list[str]) -> pl.DataFrame:
    locus = [f"{f.upper()}_{s}" for s in SUFFIXES for f in LOCUS_FIELDS]
    cols = [c for c in first if c in df.columns] + [c for c in locus if c in df.columns]
    cols += [c for c in df.columns if c not in cols and c not in last]
    return df.select(cols + [c for c in last if c in df.columns])


_STATS = ["TEST", "N", "BETA", "PARTIAL_R2", "SE", "STAT", "DF1", "DF2", "P", "LOG10P", "P_BONF"]


def scan_columns(table: pl.DataFrame, test: str, n_tests: int) -> pl.DataFrame:
    """A ``scan`` table (locus columns + ``interpret.scan`` statistics) in the convention.

    ``n_tests``: number of tuples the scan tested (the Bonferroni factor of P_BONF). Product
    test: BETA = PLINK's BETA_INT, STAT = (BETA/SE)^2 (chi-square, 1 df, as PLINK 1.9); genotype
    test: STAT = F with DF1, DF2.
    """
    df = table.drop([c for c in ("idx_a", "idx_b", "idx_c") if c in table.columns])
    df = df.rename(_locus_renames(df.columns))
    df = df.rename(
        {
            k: v
            for k, v in {"n": "N", "BETA_INT": "BETA", "OR_INT": "OR", "F": "STAT"}.items()
            if k in df.columns
        }
    )
    df = df.rename({c: c.upper() for c in ("n_tagged", "tagged") if c in df.columns})
    df = df.with_columns(
        pl.Series("RANK", np.arange(1, df.height + 1), dtype=pl.Int64),
        pl.lit(test, dtype=pl.String).alias("TEST"),
        *_p_columns(df["P"], n_tests),
    )
    return _clean(_order(df, ["RANK"], _STATS + ["N_TAGGED", "TAGGED"]))


def export_columns(table: pl.DataFrame, test: str, binary: bool) -> pl.DataFrame:
    """An ``export`` table (locus columns, rank, score, clump and ``heldout_*`` columns).

    The held-out columns lose their prefix (every test in an export table is on the run's test
    samples); P_BONF is Bonferroni over the reported rows. Product test: BETA, SE, STAT = t (Wald
    z for binary traits), DF1 = 1; genotype test: PARTIAL_R2 (fraction of deviance for binary
    traits), STAT = F (likelihood-ratio chi-square), no SE.
    """
    df = table.rename(_locus_renames(table.columns))
    ren = {"rank": "RANK", "score": "SCORE", "n_tagged": "N_TAGGED", "tagged": "TAGGED"}
    ren |= {"heldout_n": "N", "heldout_se": "SE", "heldout_stat": "STAT", "heldout_p": "P"}
    ren |= {"heldout_df1": "DF1", "heldout_df2": "DF2", "heldout_note": "NOTE"}
    ren |= {"in_model": "IN_MODEL", "screen": "SCREEN"}  # screened.py (sparse fits)
    ren["heldout_sel_freq"] = "SEL_FREQ"  # stability.py: share of CV folds selecting the row
    ren["heldout_effect"] = "BETA" if test == "product" else "PARTIAL_R2"
    df = df.rename({k: v for k, v in ren.items() if k in df.columns})
    if test != "product" and "SE" in df.columns:
        df = df.drop("SE")  # the class test has no single coefficient
    if binary and "DF2" in df.columns:
        df = df.drop("DF2")  # z and likelihood-ratio tests have no denominator df
    df = df.with_columns(
        pl.lit(test, dtype=pl.String).alias("TEST"),
        *_p_columns(df["P"], df.height),
        pl.lit(unit(binary), dtype=pl.String).alias("UNIT"),
    )
    first = ["RANK"]
    last = ["SCORE", "IN_MODEL", "SCREEN", "N_TAGGED", "TAGGED", *_STATS, "SEL_FREQ", "UNIT",
            "NOTE"]  # fmt: skip
    return _clean(_order(df, first, last))


def genotype_label(label: str, ref: str, alt: str) -> str:
    """A state label as a genotype: dosage "0"/"1"/"2" -> REF REF / REF ALT / ALT ALT ("AA",
    "AG", "GG"); a multi-allelic class "i/j" (allele indices, 0 = REF) -> its two alleles;
    anything else (a residue of a sequence locus) is returned as it is. Alleles longer than one
    letter are joined with "/"."""
    alleles = [ref, *alt.split(",")]
    if label in ("0", "1", "2") and "," not in alt:
        pair = [ref, ref] if label == "0" else [ref, alt] if label == "1" else [alt, alt]
    elif "/" in label and all(x.isdigit() for x in label.split("/")):
        i, j = (int(x) for x in label.split("/"))
        if max(i, j) >= len(alleles):
            return label
        pair = [alleles[i], alleles[j]]
    else:
        return label
    return "".join(pair) if all(len(a) == 1 for a in pair) else "/".join(pair)


def locus_genotype_labels(loci: pl.DataFrame, i: int) -> list[str]:
    """Genotype labels of every state of locus ``i`` (see :func:`genotype_label`)."""
    ref, alt = loci["ref"][i], loci["alt"][i]
    return [genotype_label(s, ref, alt) for s in loci["states"][i].to_list()]


def allele_columns(alleles: pl.DataFrame, loci: pl.DataFrame, binary: bool) -> pl.DataFrame:
    """The allele-level long table: RANK, ID_A, GENOTYPE_A, DOSAGE_A, ID_B, ..., EFFECT, UNIT.

    GENOTYPE is the genotype written with REF/ALT letters (residue for sequence loci), DOSAGE
    the ALT dosage 0/1/2 of biallelic loci (NA otherwise), EFFECT the pure interaction effect of
    that genotype combination.
    """
    ids = loci["id"].to_list()
    where = {x: k for k, x in enumerate(ids)}
    cols: dict[str, pl.Series] = {"RANK": alleles["rank"].cast(pl.Int64)}
    for s in SUFFIXES:
        if f"id_{s.lower()}" not in alleles.columns:
            continue
        lid, st = alleles[f"id_{s.lower()}"], alleles[f"state_{s.lower()}"]
        idx = [where[x] for x in lid.to_list()]
        refs, alts = loci["ref"].to_list(), loci["alt"].to_list()
        geno = [genotype_label(v, refs[k], alts[k]) for v, k in zip(st, idx, strict=True)]
        dos = [int(v) if v in ("0", "1", "2") and "," not in alts[k] else None
               for v, k in zip(st, idx, strict=True)]  # fmt: skip
        cols[f"ID_{s}"] = lid
        cols[f"GENOTYPE_{s}"] = pl.Series(geno, dtype=pl.String)
        cols[f"DOSAGE_{s}"] = pl.Series(dos, dtype=pl.Int64)
    cols["EFFECT"] = alleles["interaction_effect"].cast(pl.Float64)
    out = pl.DataFrame(cols).with_columns(pl.lit(unit(binary), dtype=pl.String).alias("UNIT"))
    return _clean(out)

"""The column contract of every table the CLI writes (``scan``, ``export``, allele tables).

Oracles: the library frames the tables are made from (``interpret.scan.scan``,
``interpret.export.export_pairs``), hand-written genotype labels, and the printed text itself
(6 significant digits, integers without a decimal point, ``NA`` and never an empty cell).
"""

from __future__ import annotations

import re

import numpy as np
import polars as pl
import pytest

from genoattn.cli.app import run
from genoattn.config import DataConfig
from genoattn.data.load import load_dataset
from genoattn.interpret.columns import genotype_label
from genoattn.interpret.scan import scan as scan_pairs

SMALL_FIT = (
    "model:\n  sparse:\n    n_lambda: 6\n    max_candidates: 30\ntrain:\n  accelerator: cpu\n"
)
LOCUS = [f"{f}_{s}" for s in "AB" for f in ("CHROM", "POS", "ID", "REF", "ALT")]
SIG6 = re.compile(r"^-?(\d(\.\d{1,5})?e[-+]\d+|\d+(\.\d+)?|\.\d+|inf)$")


def _ok(argv, capsys) -> str:
    rc = run([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert rc == 0, err[-2000:]
    return out


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    base = tmp_path_factory.mktemp("tables")
    sim = base / "sim"
    assert (
        run(["simulate", "--out", str(sim), "--samples", "500", "--loci", "50", "--seed", "3"]) == 0
    )
    (base / "fast.yaml").write_text(SMALL_FIT)
    args = ["--vcf", sim / "cohort.vcf.gz", "--pheno", sim / "pheno.tsv", "--no-progress"]
    assert (
        run([str(a) for a in ["fit", *args, "--config", base / "fast.yaml", "--out", base / "run"]])
        == 0
    )
    return base, sim, args


def _cells(path) -> tuple[list[str], list[list[str]]]:
    lines = path.read_text().splitlines()
    return lines[0].split("\t"), [ln.split("\t") for ln in lines[1:]]


def _check_text(path, int_cols, float_cols) -> None:
    """Every cell non-empty; integer columns print as integers; floats to 6 significant digits."""
    head, rows = _cells(path)
    assert rows, path
    for row in rows:
        assert len(row) == len(head) and all(c != "" and c != '""' for c in row), row
        for c, v in zip(head, row, strict=True):
            if v == "NA":
                continue
            if c in int_cols:
                assert re.fullmatch(r"-?\d+", v), (c, v)
            if c in float_cols:
                assert SIG6.match(v), (c, v)
                digits = re.sub(r"e.*$", "", v).replace("-", "").replace(".", "").lstrip("0")
                assert len(digits) <= 6, (c, v)


def test_tables__scan_product_columns_types_and_values(cohort, capsys):
    base, sim, args = cohort
    out = base / "scan.tsv"
    _ok(["scan", *args, "--out", out, "--top", "25"], capsys)
    t = pl.read_csv(out, separator="\t", null_values="NA")
    assert t.columns == ["RANK", *LOCUS, "TEST", "N", "BETA", "SE", "STAT", "P", "LOG10P", "P_BONF"]
    _check_text(
        out, {"RANK", "POS_A", "POS_B", "N"}, {"BETA", "SE", "STAT", "P", "LOG10P", "P_BONF"}
    )
    # the same numbers as the library's scan, to 6 significant digits
    ds = load_dataset(
        DataConfig(vcf=str(sim / "cohort.vcf.gz"), pheno=str(sim / "pheno.tsv")), log=lambda _: None
    )
    lib = scan_pairs(ds, "product", top=25)
    np.testing.assert_allclose(t["BETA"].to_numpy(), lib["BETA_INT"].to_numpy(), rtol=1e-5)
    np.testing.assert_allclose(t["P"].to_numpy(), lib["P"].to_numpy(), rtol=1e-5)
    assert t["N"].to_list() == lib["n"].to_list()
    np.testing.assert_allclose(t["LOG10P"].to_numpy(), -np.log10(lib["P"].to_numpy()), rtol=1e-5)
    n_tests = 50 * 49 // 2
    np.testing.assert_allclose(
        t["P_BONF"].to_numpy(), np.minimum(1, lib["P"].to_numpy() * n_tests), rtol=1e-5
    )
    assert t["RANK"].to_list() == list(range(1, 26)) and set(t["TEST"]) == {"product"}


def test_tables__scan_genotype_has_integer_dfs_and_parquet_keeps_types(cohort, capsys):
    base, _, args = cohort
    out = base / "scan_g.parquet"
    _ok(["scan", *args, "--test", "genotype", "--out", out, "--top", "10"], capsys)
    t = pl.read_parquet(out)
    assert t.columns == ["RANK", *LOCUS, "TEST", "N", "STAT", "DF1", "DF2", "P", "LOG10P", "P_BONF"]
    assert t.schema["DF1"] == pl.Int64 and t.schema["DF2"] == pl.Int64 and t.schema["N"] == pl.Int64
    assert t.schema["P"] == pl.Float64 and t.schema["POS_A"] == pl.Int64
    assert (t["DF2"] == t["N"] - 9).all() or (t["DF1"] < 4).any()


def test_tables__scan_top_counts_rows_after_clumping(cohort, capsys):
    base, _, args = cohort
    out = base / "scan_c.tsv"
    _ok(["scan", *args, "--out", out, "--top", "10", "--clump", "--clump-r2", "0.2"], capsys)
    t = pl.read_csv(out, separator="\t", null_values="NA")
    assert t.height == 10, t.height
    assert t.columns[-2:] == ["N_TAGGED", "TAGGED"]
    assert t["TAGGED"].is_null().sum() == (t["N_TAGGED"] == 0).sum()  # NA, never ""
    assert t.schema["N_TAGGED"] == pl.Int64


def test_tables__export_model_only_drops_the_screened_rows(cohort, capsys, tmp_path):
    base, _, _ = cohort
    args = ["export", base / "run", "--top", "10", "--no-progress", "--condition", "none"]
    _ok([*args, "--out", tmp_path / "all.tsv"], capsys)
    _ok([*args, "--model-only", "--out", tmp_path / "model.tsv"], capsys)
    full = pl.read_csv(tmp_path / "all.tsv", separator="\t", null_values="NA")
    only = pl.read_csv(tmp_path / "model.tsv", separator="\t", null_values="NA")
    assert "IN_MODEL" not in only.columns and "SCREEN" not in only.columns
    n_model = int(full["IN_MODEL"].sum())
    assert only.height == n_model <= full.height  # the model's rows, the same and in order
    for c in ("ID_A", "ID_B", "SCORE", "P"):
        assert only[c].to_list() == full[c].to_list()[:n_model], c


def test_tables__export_and_allele_tables(cohort, capsys, tmp_path):
    base, _, _ = cohort
    out = tmp_path / "ep.tsv"
    _ok(["export", base / "run", "--out", out, "--top", "5", "--no-progress"], capsys)
    t = pl.read_csv(out, separator="\t", null_values="NA")
    stats = [
        "TEST",
        "N",
        "PARTIAL_R2",
        "STAT",
        "DF1",
        "DF2",
        "P",
        "LOG10P",
        "P_BONF",
        "SEL_FREQ",
        "UNIT",
        "NOTE",
    ]
    assert t.columns == [
        "RANK",
        *LOCUS,
        "SCORE",
        "IN_MODEL",
        "SCREEN",
        "N_TAGGED",
        "TAGGED",
        *stats,
    ]
    assert t["SEL_FREQ"].null_count() == t.height  # one validation split: no stability record
    assert t.schema["IN_MODEL"] == pl.Boolean and t["SCREEN"].null_count() == 0  # sparse run
    _check_text(out, {"RANK", "N", "DF1", "DF2", "N_TAGGED"}, {"SCORE", "PARTIAL_R2", "STAT", "P"})
    np.testing.assert_allclose(t["P_BONF"], np.minimum(1, t["P"] * t.height), rtol=1e-5)
    assert set(t["UNIT"]) == {"trait"} and set(t["TEST"]) == {"genotype"}
    al = pl.read_csv(tmp_path / "ep.alleles.tsv", separator="\t", null_values="NA")
    assert al.columns == [
        "RANK", "ID_A", "GENOTYPE_A", "DOSAGE_A", "ID_B", "GENOTYPE_B", "DOSAGE_B", "EFFECT", "UNIT"
    ]  # fmt: skip
    # genotypes written from REF/ALT: dosage 0 = REF REF, 2 = ALT ALT
    row = t.row(0, named=True)
    first = al.filter(pl.col("RANK") == 1)
    ref, alt = row["REF_A"], row["ALT_A"]
    got = dict(zip(first["DOSAGE_A"], first["GENOTYPE_A"], strict=True))
    assert got == {0: ref + ref, 1: ref + alt, 2: alt + alt}
    # product test: BETA and SE instead of PARTIAL_R2, DF1 = 1
    _ok(
        [
            "export",
            base / "run",
            "--out",
            tmp_path / "pr.parquet",
            "--top",
            "5",
            "--test",
            "product",
            "--no-progress",
        ],
        capsys,
    )
    pr = pl.read_parquet(tmp_path / "pr.parquet")
    assert {"BETA", "SE"} <= set(pr.columns) and "PARTIAL_R2" not in pr.columns
    assert pr.schema["DF1"] == pl.Int64 and set(pr["DF1"].drop_nulls()) <= {1}


@pytest.mark.parametrize(
    ("label", "ref", "alt", "want"),
    [
        ("0", "A", "G", "AA"), ("1", "A", "G", "AG"), ("2", "A", "G", "GG"),
        ("1/2", "C", "T,G", "TG"), ("0/0", "C", "T,G", "CC"), ("0/1", "A", "AT,G", "A/AT"),
        ("L", "L", "I,V", "L"),
    ],
)  # fmt: skip
def test_tables__genotype_labels_from_ref_alt(label, ref, alt, want):
    assert genotype_label(label, ref, alt) == want

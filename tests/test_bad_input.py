"""Every bad input named in the issue raises GenoattnError naming the file and the problem."""

import numpy as np
import pytest
from conftest import VCF_HEADER

from genoattn.config import DataConfig
from genoattn.contract import Cohort, Trait, make_loci
from genoattn.data.align import align
from genoattn.encode.cache import load_cohort
from genoattn.errors import GenoattnError
from genoattn.io.fasta import read_fasta
from genoattn.io.plink import read_bed
from genoattn.io.table import read_trait
from genoattn.io.vcf import read_vcf

COLS = "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\ts1\ts2\n"


def _raises(fn, path, *words):
    with pytest.raises(GenoattnError) as e:
        fn(path)
    msg = str(e.value)
    assert str(path) in msg, msg
    for w in words:
        assert w in msg, msg
    return msg


@pytest.mark.parametrize("reader", [read_vcf, read_fasta, read_trait, read_bed])
def test_missing_file(tmp_path, reader):
    _raises(reader, tmp_path / "nope", "not found")


@pytest.mark.parametrize("reader", [read_vcf, read_fasta, read_trait])
def test_empty_file(tmp_path, reader):
    p = tmp_path / "empty.txt"
    p.touch()
    _raises(reader, p, "empty")


def test_vcf_without_gt(tmp_path):
    p = tmp_path / "nogt.vcf"
    p.write_text(VCF_HEADER + COLS + "1\t10\t.\tA\tG\t.\t.\t.\tDP\t3\t4\n")
    _raises(read_vcf, p, "no GT field")


@pytest.mark.parametrize(
    "line, words",
    [
        ("1\t10\trs1\tA\n", ["malformed VCF line 6", "found 4"]),
        ("1\t10\trs1\tA\tG\t.\t.\t.\tGT\t0/0\t0/1\textra\n", ["malformed VCF line 6", "found 12"]),
        ("1\tten\trs1\tA\tG\t.\t.\t.\tGT\t0/0\t0/1\n", ["malformed VCF", "POS"]),
        ("1\t10\trs1\tA\tG\t.\t.\t.\tGT\t0/x\t0/1\n", ["malformed VCF", "CALLDATA"]),
        ("1\t10\trs1\tA\tG\t.\t.\t.\tGT\t0/3\t0/1\n", ["malformed VCF", "allele index 3"]),
    ],
)
def test_vcf_malformed_lines(tmp_path, line, words):
    p = tmp_path / "bad.vcf"
    p.write_text(VCF_HEADER + COLS + "1\t5\trs0\tA\tG\t.\t.\t.\tGT\t0/0\t0/1\n" + line)
    _raises(read_vcf, p, *words)


def test_vcf_header_only_has_no_records(tmp_path):
    p = tmp_path / "h.vcf"
    p.write_text(VCF_HEADER + COLS)
    _raises(read_vcf, p, "no variant records")


def test_vcf_not_a_vcf(tmp_path):
    p = tmp_path / "x.vcf"
    p.write_text("hello\tworld\n")
    _raises(read_vcf, p, "#CHROM")


def test_vcf_duplicate_samples(tmp_path):
    p = tmp_path / "dup.vcf"
    p.write_text(VCF_HEADER + COLS.replace("s2", "s1") + "1\t5\trs0\tA\tG\t.\t.\t.\tGT\t0/0\t0/1\n")
    _raises(read_vcf, p, "duplicate sample IDs", "s1")


def test_fasta_unequal_lengths(tmp_path):
    p = tmp_path / "u.fa"
    p.write_text(">a\nACGT\n>b\nACG\n")
    _raises(read_fasta, p, "unequal lengths")


def test_fasta_invalid_characters(tmp_path):
    p = tmp_path / "i.fa"
    p.write_text(">a\nAC1T\n>b\nACGT\n")
    _raises(read_fasta, p, "invalid characters", "'1'")
    q = tmp_path / "j.fa"
    q.write_text(">a\nACGE\n>b\nACGT\n")
    with pytest.raises(GenoattnError, match="invalid characters.*'E'.*dna"):
        read_fasta(q, alphabet="dna")


def test_fasta_duplicate_ids(tmp_path):
    p = tmp_path / "d.fa"
    p.write_text(">a\nACGT\n>a\nACGA\n")
    _raises(read_fasta, p, "duplicate record IDs")


def test_pheno_duplicate_ids(tmp_path):
    p = tmp_path / "p.tsv"
    p.write_text("IID\tt\na\t1\na\t2\n")
    _raises(read_trait, p, "duplicate sample IDs")


def test_bed_duplicate_iids(tmp_path):
    from bed_reader import to_bed

    to_bed(tmp_path / "d.bed", np.zeros((2, 3), dtype=np.float32), properties={"iid": ["x", "x"]})
    with pytest.raises(GenoattnError, match="duplicate sample IDs") as e:
        read_bed(tmp_path / "d")
    assert "d.fam" in str(e.value)


def test_unknown_trait_column_lists_available(tiny_pheno):
    msg = _raises(lambda p: read_trait(p, trait="weight"), tiny_pheno, "unknown trait column")
    assert "'height'" in msg and "'case'" in msg


def test_non_numeric_trait(tmp_path):
    p = tmp_path / "p.tsv"
    p.write_text("IID\tt\na\t1\nb\ttall\n")
    _raises(read_trait, p, "not numeric", "'tall'")


def test_all_missing_trait(tmp_path):
    p = tmp_path / "p.tsv"
    p.write_text("IID\tt\na\tNA\nb\t-9\n")
    _raises(read_trait, p, "no non-missing values")


def test_no_overlapping_samples_names_both_files():
    loci = make_loci(["1"], [1], ["v"], ["A"], ["G"], [["0", "1", "2"]])
    cohort = Cohort(np.zeros((2, 1), np.int8), loci, np.array(["a", "b"], dtype=object))
    trait = Trait(np.array(["c", "d"], dtype=object), np.ones(2), "t", False, np.zeros((2, 0)))
    with pytest.raises(GenoattnError, match="no sample IDs in common") as e:
        align(cohort, trait, "geno.vcf", "pheno.tsv")
    assert "geno.vcf" in str(e.value) and "pheno.tsv" in str(e.value)


def test_duplicate_genotype_ids_in_align():
    loci = make_loci(["1"], [1], ["v"], ["A"], ["G"], [["0", "1", "2"]])
    cohort = Cohort(np.zeros((2, 1), np.int8), loci, np.array(["a", "a"], dtype=object))
    trait = Trait(np.array(["a"], dtype=object), np.ones(1), "t", False, np.zeros((1, 0)))
    with pytest.raises(GenoattnError, match="geno.vcf.*duplicate sample IDs"):
        align(cohort, trait, "geno.vcf", "pheno.tsv")


def test_unwritable_cache_dir(tmp_path, tiny_vcf):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(GenoattnError, match="cache directory cannot be written"):
        load_cohort(DataConfig(vcf=str(tiny_vcf), cache_dir=str(blocker / "sub")), log=print)


# --- fit: one line, exit 2, and cheap mistakes caught before the genotypes are read ----------


def _fit_cli(capsys, monkeypatch, tmp_path, vcf, pheno, *extra):
    """Run `genoattn fit` with genotype loading forbidden; returns (rc, stderr lines)."""
    import genoattn.data.load as load_mod
    from genoattn.cli.app import run

    def no_genotypes(*a, **k):
        raise AssertionError("genotypes were loaded before the cheap checks")

    monkeypatch.setattr(load_mod, "load_cohort", no_genotypes)
    capsys.readouterr()
    rc = run(["fit", "--vcf", str(vcf), "--pheno", str(pheno), "--no-progress", *map(str, extra)])
    err = capsys.readouterr().err.strip().splitlines()
    return rc, err


@pytest.mark.parametrize(
    "values, words",
    [
        (["1.5", "inf", "2.0", "0.3"], ["non-finite value 'inf'"]),
        (["1.5", "-Inf", "2.0", "0.3"], ["non-finite value '-Inf'"]),
        (["0", "1", "2", "1"], ["ambiguous", "0 = missing"]),
    ],
)
def test_fit__bad_trait_values_give_one_line(
    tmp_path, capsys, monkeypatch, tiny_vcf, values, words
):
    p = tmp_path / "p.tsv"
    p.write_text("IID\tt\n" + "".join(f"s{i + 1}\t{v}\n" for i, v in enumerate(values)))
    rc, err = _fit_cli(capsys, monkeypatch, tmp_path, tiny_vcf, p, "--out", tmp_path / "run")
    assert rc == 2
    assert len(err) == 1 and err[0].startswith("error: ") and str(p) in err[0], err
    for w in words:
        assert w in err[0]
    assert not (tmp_path / "run").exists() and not (tmp_path / "run.partial").exists()


def test_fit__unknown_trait_caught_before_genotypes(tmp_path, capsys, monkeypatch, tiny_vcf,
                                                    tiny_pheno):  # fmt: skip
    rc, err = _fit_cli(
        capsys, monkeypatch, tmp_path, tiny_vcf, tiny_pheno, "--trait", "weight", "--out",
        tmp_path / "run",
    )  # fmt: skip
    assert rc == 2 and len(err) == 1 and "unknown trait column 'weight'" in err[0], err


def test_fit__existing_out_caught_before_genotypes(tmp_path, capsys, monkeypatch, tiny_vcf,
                                                   tiny_pheno):  # fmt: skip
    (tmp_path / "run").mkdir()
    rc, err = _fit_cli(
        capsys, monkeypatch, tmp_path, tiny_vcf, tiny_pheno, "--out", tmp_path / "run"
    )
    assert rc == 2 and len(err) == 1 and "--overwrite" in err[0], err


def test_fit__missing_output_folder_caught_before_genotypes(tmp_path, capsys, monkeypatch,
                                                           tiny_vcf, tiny_pheno):  # fmt: skip
    out = tmp_path / "no_such_folder" / "run"
    rc, err = _fit_cli(capsys, monkeypatch, tmp_path, tiny_vcf, tiny_pheno, "--out", out)
    assert rc == 2 and len(err) == 1 and "does not exist" in err[0], err
    assert not out.parent.exists()

import shutil
import subprocess

import numpy as np
import pytest
from conftest import random_calls, write_vcf

from genoattn.io.plink import read_bed
from genoattn.io.vcf import read_vcf


def _assert_same(a, b):
    np.testing.assert_array_equal(np.asarray(a.states), np.asarray(b.states))
    assert a.loci.select("chrom", "pos", "id", "ref", "alt", "states").equals(
        b.loci.select("chrom", "pos", "id", "ref", "alt", "states")
    )
    assert a.samples.tolist() == b.samples.tolist()


@pytest.mark.plink
@pytest.mark.skipif(shutil.which("plink1.9") is None, reason="plink1.9 not installed")
def test_read_bed__plink_converted_vcf_gives_identical_tokens(tmp_path):
    calls = random_calls(n=31, l=45, missing=0.08, seed=7)
    chroms = ["1"] * 20 + ["2"] * 25
    vcf = write_vcf(tmp_path / "c.vcf.gz", calls, chroms=chroms)
    subprocess.run(
        [
            "plink1.9",
            "--vcf",
            str(vcf),
            "--keep-allele-order",
            "--double-id",
            "--make-bed",
            "--out",
            str(tmp_path / "c"),
        ],
        check=True,
        capture_output=True,
    )
    a, b = read_vcf(vcf), read_bed(tmp_path / "c")
    _assert_same(a, b)
    np.testing.assert_array_equal(a.tokens(), b.tokens())


def test_read_bed__to_bed_with_alt_as_a1_matches_vcf(tmp_path):
    from bed_reader import to_bed

    calls = random_calls(n=12, l=20, seed=11)
    a = read_vcf(write_vcf(tmp_path / "c.vcf", calls, chroms=["3"] * 20))
    val = a.states.astype(np.float32)
    val[a.states < 0] = np.nan
    ids = [i if j % 5 else "." for j, i in enumerate(a.loci["id"].to_list())]
    to_bed(
        tmp_path / "d.bed",
        val,
        properties={
            "fid": a.samples.tolist(),
            "iid": a.samples.tolist(),
            "sid": ids,
            "chromosome": a.loci["chrom"].to_list(),
            "bp_position": a.loci["pos"].to_list(),
            "allele_1": a.loci["alt"].to_list(),
            "allele_2": a.loci["ref"].to_list(),
        },
        count_A1=True,
    )
    _assert_same(a, read_bed(tmp_path / "d.bed"))  # a trailing .bed is accepted

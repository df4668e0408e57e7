import gzip

import numpy as np
import pytest
from conftest import TINY_LABELS, TINY_STATES, TINY_VCF, random_calls, write_vcf

from genoattn.contract import MISSING
from genoattn.io.vcf import encode_gt_chunk, read_vcf


def test_read_vcf__hand_written_states_and_loci(tiny_vcf):
    c = read_vcf(tiny_vcf)
    np.testing.assert_array_equal(c.states, TINY_STATES)
    assert c.samples.tolist() == ["s1", "s2", "s3", "s4"]
    assert c.loci["id"].to_list() == ["rs1", "1:200:C:T,G", "rs3", "rs4", "rs5"]
    assert c.loci["chrom"].to_list() == ["1", "1", "1", "2", "2"]
    assert c.loci["pos"].to_list() == [100, 200, 300, 50, 60]
    assert c.loci["ref"].to_list() == ["A", "C", "G", "T", "A"]
    assert c.loci["alt"].to_list() == ["G", "T,G", "A", "C", "AT,G"]
    assert c.loci["states"].to_list() == TINY_LABELS
    assert c.is_biallelic().tolist() == [True, False, True, True, False]


@pytest.mark.parametrize("chunk_length", [1, 2, 1000])
def test_read_vcf__gzip_and_chunking_do_not_change_states(tmp_path, chunk_length):
    gz = tmp_path / "tiny.vcf.gz"
    with gzip.open(gz, "wt") as f:
        f.write(TINY_VCF)
    c = read_vcf(gz, chunk_length=chunk_length)
    np.testing.assert_array_equal(c.states, TINY_STATES)
    assert c.loci["states"].to_list() == TINY_LABELS


def test_read_vcf__out_streams_to_memmap(tmp_path, tiny_vcf):
    out = tmp_path / "states.npy"
    c = read_vcf(tiny_vcf, chunk_length=2, out=out)
    assert isinstance(c.states, np.memmap)
    np.testing.assert_array_equal(c.states, TINY_STATES)
    np.testing.assert_array_equal(np.load(out, allow_pickle=False), TINY_STATES)


def test_read_vcf__random_cohort_equals_naive_dosage(tmp_path):
    calls = random_calls(n=23, l=37, seed=3)
    path = write_vcf(tmp_path / "r.vcf.gz", calls)
    c = read_vcf(path, chunk_length=8, progress=True)
    naive = np.where((calls < 0).any(axis=2), MISSING, calls.sum(axis=2)).T  # (n, l)
    np.testing.assert_array_equal(c.states, naive)
    assert c.loci["id"][0] == "1:100:A:G"


def test_encode_gt_chunk__multiallelic_classes_sorted():
    gt = np.array([[[2, 0], [1, 1], [-1, -1], [0, 2], [3, 1]]])  # (1 site, 5 samples, 2)
    states, labels = encode_gt_chunk(gt, np.array([3]))
    assert labels == [["0/2", "1/1", "1/3"]]
    assert states.tolist() == [[0, 1, -1, 0, 2]]


def test_encode_gt_chunk__allele_index_beyond_alt_is_rejected():
    gt = np.array([[[0, 2]]])
    with pytest.raises(ValueError, match="allele index 2"):
        encode_gt_chunk(gt, np.array([1]))

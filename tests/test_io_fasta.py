import numpy as np
import pytest

from genoattn.contract import SEQUENCE
from genoattn.io.fasta import infer_alphabet, read_fasta, write_fasta


def test_read_fasta__hand_written_alignment(tiny_fasta):
    c = read_fasta(tiny_fasta)
    assert c.kind == SEQUENCE
    assert c.samples.tolist() == ["a", "b", "c"]
    # columns: AAT, CCC, GGG, TA?, --A, NAA ('?' and 'N' missing; '-' a residue sorting first)
    expected = np.array(
        [[0, 0, 0, 1, 0, -1], [0, 0, 0, 0, 0, 0], [1, 0, 0, -1, 1, 0]], dtype=np.int8
    )
    np.testing.assert_array_equal(c.states, expected)
    assert c.loci["states"].to_list() == [["A", "T"], ["C"], ["G"], ["A", "T"], ["-", "A"], ["A"]]
    assert c.loci["ref"].to_list() == ["A", "C", "G", "A", "-", "A"]
    assert c.loci["alt"].to_list() == ["T", ".", ".", "T", "A", "."]
    assert c.loci["id"].to_list() == [f"col{p}" for p in range(1, 7)]
    assert set(c.loci["chrom"].to_list()) == {"dna"}


def test_fasta__write_read_round_trip_protein(tmp_path):
    rng = np.random.default_rng(0)
    aa = np.frombuffer(b"ACDEFGHIKLMNPQRSTVWY-X", dtype=np.uint8)
    seqs = rng.choice(aa, size=(9, 57))
    src = tmp_path / "in" / "prot.fa"
    src.parent.mkdir()
    src.write_text("".join(f">p{i}\n{s.tobytes().decode()}\n" for i, s in enumerate(seqs)))
    a = read_fasta(src)
    dst = tmp_path / "out" / "prot.fa"
    dst.parent.mkdir()
    write_fasta(a, dst)
    b = read_fasta(dst)
    np.testing.assert_array_equal(a.states, b.states)
    assert a.loci.equals(b.loci)
    assert a.samples.tolist() == b.samples.tolist()
    assert (a.states == -1).sum() == (seqs == ord("X")).sum()


@pytest.mark.parametrize(
    "chars, name", [("ACGTN-", "dna"), ("ACGU", "rna"), ("ACDEFX", "protein"), ("AC1", None)]
)
def test_infer_alphabet(chars, name):
    assert infer_alphabet(set(chars)) == name


def test_read_fasta__given_alphabet_lowercase_gzip(tmp_path):
    import gzip

    p = tmp_path / "r.fa.gz"
    with gzip.open(p, "wt") as f:
        f.write(">x\nacgu\n>y\nACGA\n")
    c = read_fasta(p, alphabet="rna")
    assert c.loci["states"].to_list()[3] == ["A", "U"]

"""PLINK 2 input (--pfile): the same tokens, loci and samples as the VCF the fileset came from.

Oracles: ``read_vcf`` of the same calls written as VCF (pgenlib's own writer, always), a fileset
made by ``plink2 --make-pgen`` from the hand-written conftest VCF (when plink2 is installed), and
``genoattn scan`` on the VCF.
"""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import polars as pl
import pytest

from genoattn.cli.app import run
from genoattn.errors import GenoattnError
from genoattn.io.vcf import read_vcf

pgenlib = pytest.importorskip("pgenlib")
from genoattn.io.pgen import read_pgen  # noqa: E402

ALTS = ["G", "G", "T,C", "G", "AT,G,C", "G"]  # two multi-allelic sites


def _calls(n: int, seed: int = 0, alts=ALTS) -> np.ndarray:
    """(l, n, 2) int32 allele indices (-1 missing) for sites with ALT alleles ``alts``."""
    rng = np.random.default_rng(seed)
    out = np.empty((len(alts), n, 2), dtype=np.int32)
    for j, alt in enumerate(alts):
        k = alt.count(",") + 2
        out[j] = rng.integers(0, k, size=(n, 2))
        out[j][rng.random(n) < 0.08] = -1
    return out


def _write_both(base, calls: np.ndarray, samples: list[str], alts=ALTS):
    l, n, _ = calls.shape
    ids = [f"rs{j}" if j != 1 else "." for j in range(l)]
    head = '##fileformat=VCFv4.2\n##FORMAT=<ID=GT,Number=1,Type=String,Description="GT">\n'
    lines = [head + "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t" + "\t".join(samples)]
    pvar = ["#CHROM\tPOS\tID\tREF\tALT"]
    for j in range(l):
        gts = [
            "./." if calls[j, i, 0] < 0 else f"{calls[j, i, 0]}/{calls[j, i, 1]}" for i in range(n)
        ]
        lines.append(
            f"2\t{1000 + 10 * j}\t{ids[j]}\tA\t{alts[j]}\t.\tPASS\t.\tGT\t" + "\t".join(gts)
        )
        pvar.append(f"2\t{1000 + 10 * j}\t{ids[j]}\tA\t{alts[j]}")
    (base / "c.vcf").write_text("\n".join(lines) + "\n")
    (base / "c.pvar").write_text("\n".join(pvar) + "\n")
    (base / "c.psam").write_text("#FID\tIID\tSEX\n" + "".join(f"f{s}\t{s}\tNA\n" for s in samples))
    w = pgenlib.PgenWriter(str(base / "c.pgen").encode(), n, l, False, allele_ct_limit=4)
    for j in range(l):
        a = calls[j].copy()
        a[a < 0] = -9
        w.append_alleles(np.ascontiguousarray(a.reshape(-1)), allele_ct=alts[j].count(",") + 2)
    w.close()
    return base / "c.vcf", base / "c"


def _same(a, b) -> None:
    np.testing.assert_array_equal(a.tokens(), b.tokens())
    assert a.loci.equals(b.loci)
    assert a.samples.tolist() == b.samples.tolist()


def test_pgen__pgenlib_writer_fileset_reads_as_its_vcf(tmp_path):
    samples = [f"s{i}" for i in range(40)]
    vcf, prefix = _write_both(tmp_path, _calls(40), samples)
    _same(read_pgen(prefix), read_vcf(vcf))
    assert read_pgen(str(prefix) + ".pgen").n_loci == len(ALTS)  # extension accepted


@pytest.mark.skipif(shutil.which("plink2") is None, reason="needs the plink2 binary")
def test_pgen__plink2_make_pgen_of_the_tiny_vcf(tiny_vcf, tmp_path):
    out = tmp_path / "tiny"
    cmd = ["plink2", "--vcf", str(tiny_vcf), "--make-pgen", "--vcf-half-call", "missing",
           "--out", str(out)]  # fmt: skip
    subprocess.run(cmd, check=True, capture_output=True)
    _same(read_pgen(out), read_vcf(tiny_vcf))


def test_pgen__scan_with_pfile_writes_the_vcf_table(tmp_path, capsys):
    samples = [f"s{i}" for i in range(60)]
    rng = np.random.default_rng(1)
    alts = ["G"] * 8  # biallelic: the scan tests dosages
    vcf, prefix = _write_both(tmp_path, _calls(60, seed=2, alts=alts), samples, alts)
    (tmp_path / "p.tsv").write_text(
        "FID\tIID\ty\n" + "".join(f"f{s}\t{s}\t{rng.normal():.4f}\n" for s in samples)
    )
    tables = []
    for flag, path in (("--vcf", vcf), ("--pfile", prefix)):
        out = tmp_path / f"scan{flag}.tsv"
        argv = ["scan", flag, str(path), "--pheno", str(tmp_path / "p.tsv"), "--out", str(out),
                "--no-progress", "--cache-dir", str(tmp_path / "cache")]  # fmt: skip
        assert run(argv) == 0, capsys.readouterr().err
        tables.append(pl.read_csv(out, separator="\t", null_values="NA"))
    assert tables[0].height == 28 and tables[0].equals(tables[1])
    assert len(list((tmp_path / "cache").iterdir())) == 2  # --cache-dir holds both encodings


def test_pgen__missing_psam_is_a_one_line_error(tmp_path):
    vcf, prefix = _write_both(tmp_path, _calls(10), [f"s{i}" for i in range(10)])
    (tmp_path / "c.psam").unlink()
    with pytest.raises(GenoattnError, match="c.psam"):
        read_pgen(prefix)

"""VCF-Zarr input: a store converted by bio2zarr from a VCF gives that VCF's tokens and fit."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from genoattn.cli.app import run
from genoattn.errors import GenoattnError
from genoattn.io.vcf import read_vcf
from genoattn.io.zarr import read_zarr

pytest.importorskip("zarr")
vcf_mod = pytest.importorskip("bio2zarr.vcf")
pytest.importorskip("cyvcf2")

HEADER = "##fileformat=VCFv4.2\n##contig=<ID=1>\n" + (
    '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
)


def _vcf(tmp_path: Path, n: int = 60, l: int = 40, seed: int = 0) -> Path:
    """Single-contig bgzipped VCF: biallelic sites, two multi-allelic ones, missing and
    half calls, '.' IDs and an ALT '.' site."""
    from Bio import bgzf

    rng = np.random.default_rng(seed)
    lines = [HEADER, "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t"]
    lines[-1] += "\t".join(f"s{i}" for i in range(n)) + "\n"
    for j in range(l):
        alt, k = ("T,G", 3) if j in (3, 17) else ((".", 1) if j == 25 else ("G", 2))
        calls = []
        for _ in range(n):
            a, b = rng.integers(0, k, 2) if k > 1 else (0, 0)
            u = rng.random()
            calls.append("./." if u < 0.04 else (f"./{b}" if u < 0.05 else f"{a}|{b}"))
        vid = "." if j % 4 == 0 else f"rs{j}"
        lines.append(f"1\t{100 * (j + 1)}\t{vid}\tA\t{alt}\t.\tPASS\t.\tGT\t" + "\t".join(calls))
        lines[-1] += "\n"
    path = tmp_path / "c.vcf.gz"
    with bgzf.BgzfWriter(str(path)) as w:
        w.write("".join(lines))
    return path


def _store(tmp_path: Path, vcf: Path, variants_chunk: int = 16) -> Path:
    out = tmp_path / "c.vcz"
    vcf_mod.convert([str(vcf)], str(out), variants_chunk_size=variants_chunk,
                    worker_processes=0, show_progress=False)  # fmt: skip
    return out


def test_read_zarr__same_states_loci_tokens_as_the_vcf(tmp_path):
    vcf = _vcf(tmp_path)
    store = _store(tmp_path, vcf)
    a, b = read_vcf(vcf), read_zarr(store)
    assert np.array_equal(np.asarray(a.states), b.states)
    assert a.loci.equals(b.loci)
    assert a.samples.tolist() == b.samples.tolist()
    assert np.array_equal(a.tokens(), b.tokens())
    assert b.loci["n_states"].to_list()[3] > 3 and b.loci["alt"][25] == "."


def test_read_zarr__bad_store_one_line(tmp_path):
    with pytest.raises(GenoattnError, match="not found"):
        read_zarr(tmp_path / "none.vcz")
    (tmp_path / "x.vcz").mkdir()
    with pytest.raises(GenoattnError, match="x.vcz"):
        read_zarr(tmp_path / "x.vcz")


@pytest.mark.slow
def test_cli_zarr__same_fit_and_scan_as_vcf(tmp_path):
    vcf = _vcf(tmp_path, n=200, l=24, seed=2)
    store = _store(tmp_path, vcf)
    cohort = read_vcf(vcf)
    rng = np.random.default_rng(1)
    d = np.where(np.asarray(cohort.states) < 0, 0, np.asarray(cohort.states)).astype(float)
    y = d[:, 1] * d[:, 9] + rng.normal(size=200)
    (tmp_path / "y.tsv").write_text(
        "FID\tIID\ty\n" + "".join(f"s{i}\ts{i}\t{v:.6f}\n" for i, v in enumerate(y))
    )
    pheno = ["--pheno", str(tmp_path / "y.tsv"), "--no-progress"]
    for name, src in (("v", ["--vcf", str(vcf)]), ("z", ["--zarr", str(store)])):
        fit = ["fit", *src, *pheno, "--model", "additive", "--out", str(tmp_path / f"fit_{name}")]
        assert run(fit) == 0
        scan = ["scan", *src, *pheno, "--top", "20", "--out", str(tmp_path / f"s_{name}.tsv")]
        assert run(scan) == 0
    assert (tmp_path / "s_v.tsv").read_text() == (tmp_path / "s_z.tsv").read_text()
    mv, mz = (json.loads((tmp_path / f"fit_{k}" / "metrics.json").read_text()) for k in "vz")
    mv.pop("seconds"), mz.pop("seconds")
    assert mv == mz and "test" in mv
    for f in ("model.safetensors", "split.tsv", "selection.tsv", "loci.parquet"):
        assert (tmp_path / "fit_v" / f).read_bytes() == (tmp_path / "fit_z" / f).read_bytes()

"""Shared fixtures: tiny hand-written VCF / FASTA / phenotype files and a seeded VCF writer."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest
import torch

# One intra-op thread: the suite is many small tensor ops, which OpenMP spin-waiting slows down
# badly whenever the 2 cores are shared; results do not depend on it.
torch.set_num_threads(1)

VCF_HEADER = (
    "##fileformat=VCFv4.2\n"
    '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
    '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Depth">\n'
)

# Hand-written VCF: multi-allelic sites, phased + unphased calls, missing and half calls, ID '.'.
TINY_VCF = VCF_HEADER + (
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\ts1\ts2\ts3\ts4\n"
    "1\t100\trs1\tA\tG\t.\tPASS\t.\tGT\t0/0\t0|1\t1|1\t./.\n"
    "1\t200\t.\tC\tT,G\t.\tPASS\t.\tGT\t0/2\t1|2\t0/0\t2/2\n"
    "1\t300\trs3\tG\tA\t.\tPASS\t.\tGT\t1|0\t./1\t0/1\t1/1\n"
    "2\t50\trs4\tT\tC\t.\tPASS\t.\tGT\t0/0\t0/0\t0/0\t0/1\n"
    "2\t60\trs5\tA\tAT,G\t.\t.\t.\tGT:DP\t0/1:3\t1/1:4\t.:5\t0|2:1\n"
)
# Expected states, worked out by hand from the rules in genoattn.io.vcf:
# rs1 dosage; site 2 classes sorted (0/0, 0/2, 1/2, 2/2); rs3 dosage with the half call missing;
# rs4 dosage; rs5 classes sorted (0/1, 0/2, 1/1) with the '.' call missing.
TINY_STATES = np.array(
    [
        [0, 1, 1, 0, 0],
        [1, 2, -1, 0, 2],
        [2, 0, 1, 0, -1],
        [-1, 3, 2, 1, 1],
    ],
    dtype=np.int8,
)
TINY_LABELS = [
    ["0", "1", "2"],
    ["0/0", "0/2", "1/2", "2/2"],
    ["0", "1", "2"],
    ["0", "1", "2"],
    ["0/1", "0/2", "1/1"],
]

TINY_FASTA = ">a first\nACGT-N\n>b\nACGA-A\n>c\nTCG?AA\n"
TINY_PHENO = (
    "#FID\tIID\theight\tcase\nf1\ts1\t1.5\t2\nf2\ts2\tNA\t1\nf3\ts3\t-9\t2\nf4\ts4\t2.25\t1\n"
)


def write_vcf(
    path: Path, dosage_calls: np.ndarray, samples=None, chroms=None, seed: int = 0
) -> Path:
    """Write a biallelic VCF (gzip when path ends in .gz) from calls (l, n, 2) (-1 missing).

    Phasing separators are drawn at random (seeded): they must not change the encoding.
    """
    l, n, _ = dosage_calls.shape
    rng = np.random.default_rng(seed)
    samples = samples or [f"id{i}" for i in range(n)]
    chroms = chroms or ["1"] * l
    lines = [
        VCF_HEADER,
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t" + "\t".join(samples) + "\n",
    ]
    for j in range(l):
        calls = []
        for i in range(n):
            a, b = dosage_calls[j, i]
            sep = "|" if rng.random() < 0.5 else "/"
            calls.append("./." if a < 0 else f"{a}{sep}{b}")
        vid = "." if j % 5 == 0 else f"rs{j}"
        lines.append(
            f"{chroms[j]}\t{100 * (j + 1)}\t{vid}\tA\tG\t.\tPASS\t.\tGT\t" + "\t".join(calls) + "\n"
        )
    text = "".join(lines)
    if str(path).endswith(".gz"):
        with gzip.open(path, "wt") as f:
            f.write(text)
    else:
        path.write_text(text)
    return path


def random_calls(n: int, l: int, missing: float = 0.05, seed: int = 0) -> np.ndarray:
    """shape (l, n, 2), int: seeded biallelic haplotype calls with whole-call missingness."""
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.05, 0.6, size=(l, 1, 1))
    calls = (rng.random((l, n, 2)) < p).astype(int)
    calls[rng.random((l, n)) < missing] = -1
    return calls


@pytest.fixture
def tiny_vcf(tmp_path) -> Path:
    p = tmp_path / "tiny.vcf"
    p.write_text(TINY_VCF)
    return p


@pytest.fixture
def tiny_fasta(tmp_path) -> Path:
    p = tmp_path / "tiny.fasta"
    p.write_text(TINY_FASTA)
    return p


@pytest.fixture
def tiny_pheno(tmp_path) -> Path:
    p = tmp_path / "pheno.tsv"
    p.write_text(TINY_PHENO)
    return p

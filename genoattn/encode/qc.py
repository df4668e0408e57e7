"""PLINK-style quality control on encoded cohorts, streamed over blocks of loci (memmap friendly).

Axis legend: n samples, l loci, m loci in one block, k states.

Order, as plink1.9 applies it (checked against plink1.9 in the tests):
1. ``mind``: drop samples whose missing-call rate over all loci exceeds the threshold;
2. ``geno``: drop loci whose missing-call rate over the remaining samples exceeds the threshold;
3. ``maf``: drop loci whose minor-allele frequency over the remaining samples is below it;
4. ``drop_monomorphic``: drop loci with at most one observed state among the remaining samples.

Minor-allele frequency (documented choice): the frequency of the second most common allele. For a
biallelic site that is min(p, 1 - p) with p the ALT frequency, as PLINK computes it; for a
multi-allelic site alleles are counted from the genotype classes ``a/b``; for a sequence column it
is the frequency of the second most common residue among non-missing calls.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from genoattn.config import QCConfig
from genoattn.contract import GENOTYPE, MISSING, Cohort

_BLOCK = 4096  # loci per block
_EPS = 1e-9  # PLINK-like tolerance so that a rate equal to the threshold passes


@dataclass(frozen=True)
class QCReport:
    """Counts before and after QC and what each filter removed."""

    n_samples_in: int
    n_loci_in: int
    removed_mind: int  # samples
    removed_geno: int  # loci
    removed_maf: int  # loci
    removed_monomorphic: int  # loci
    n_samples_out: int
    n_loci_out: int
    maf: float = 0.0
    geno: float = 1.0
    mind: float = 1.0

    def summary(self) -> str:
        """One line: input and output sizes and every filter's effect."""
        return (
            f"QC: {self.n_samples_in} samples x {self.n_loci_in} loci in; "
            f"--mind {self.mind:g} removed {self.removed_mind} samples, "
            f"--geno {self.geno:g} removed {self.removed_geno} loci, "
            f"--maf {self.maf:g} removed {self.removed_maf} loci, "
            f"monomorphic removed {self.removed_monomorphic} loci; "
            f"{self.n_samples_out} samples x {self.n_loci_out} loci kept"
        )

    def lines(self) -> list[str]:
        """One line per filter, PLINK-log style."""
        return [
            f"{self.n_samples_in} samples and {self.n_loci_in} loci loaded",
            f"{self.removed_mind} samples removed due to missing genotype data "
            f"(--mind {self.mind:g})",
            f"{self.removed_geno} loci removed due to missing genotype data (--geno {self.geno:g})",
            f"{self.removed_maf} loci removed due to minor allele threshold (--maf {self.maf:g})",
            f"{self.removed_monomorphic} monomorphic loci removed",
            f"{self.n_loci_out} loci and {self.n_samples_out} samples pass filters and QC",
        ]

    def to_dict(self) -> dict:
        return asdict(self)


def _blocks(l: int):
    for j in range(0, l, _BLOCK):
        yield slice(j, min(j + _BLOCK, l))


def state_counts(
    states: np.ndarray, n_states: np.ndarray, rows: np.ndarray | None = None
) -> np.ndarray:
    """shape (l, k_max), int64: calls of each state per locus over the sample ``rows``.

    The one place states are counted (QC, contrasts, export frequencies, the auto fit's pair cap).

    Args:
        states: shape (n, l), int8 (may be a memmap; read in blocks of loci).
        n_states: shape (l,).
        rows: shape (n,) bool mask, or sample indices; None: every sample.
    """
    l = states.shape[1]
    n_states = np.asarray(n_states)
    k = int(max(n_states.max(initial=0), 1))
    out = np.zeros((l, k), dtype=np.int64)
    for sl in _blocks(l):
        blk = np.asarray(states[:, sl])
        blk = blk if rows is None else blk[rows]  # (n_kept, m)
        kb = int(max(n_states[sl].max(initial=0), 1))
        for s in range(kb):
            out[sl, s] = (blk == s).sum(axis=0)
    return out


def minor_frequency(
    counts: np.ndarray, labels: list[list[str]], biallelic: np.ndarray, kind: str
) -> np.ndarray:
    """shape (l,), float64: frequency of the second most common allele (residue); NaN if no calls.

    Args:
        counts: shape (l, k), calls per state (see :func:`state_counts`).
        labels: per locus, the state labels (``"0" "1" "2"``, ``"a/b"`` or residues).
        biallelic: shape (l,), bool, loci whose states are ALT dosages.
        kind: cohort kind.
    """
    l = counts.shape[0]
    out = np.full(l, np.nan)
    called = counts.sum(axis=1)
    if kind != GENOTYPE:
        top2 = -np.sort(-counts, axis=1)[:, :2] if counts.shape[1] >= 2 else None
        second = top2[:, 1] if top2 is not None else np.zeros(l)
        ok = called > 0
        out[ok] = second[ok] / called[ok]
        return out
    bi = biallelic & (called > 0)
    if bi.any():
        alt = counts[bi, 1] + 2 * counts[bi, 2]
        p = alt / (2.0 * called[bi])
        out[bi] = np.minimum(p, 1.0 - p)
    for i in np.flatnonzero(~biallelic & (called > 0)):
        alleles: dict[int, int] = {}
        for s, lab in enumerate(labels[i]):
            for a in lab.split("/"):
                alleles[int(a)] = alleles.get(int(a), 0) + int(counts[i, s])
        c = sorted(alleles.values(), reverse=True) + [0]
        out[i] = c[1] / (2.0 * called[i])
    return out


def qc_masks(cohort: Cohort, qc: QCConfig) -> tuple[np.ndarray, np.ndarray, QCReport]:
    """Which samples and loci pass QC.

    Returns:
        samples: shape (n,), bool; loci: shape (l,), bool; the report.
    """
    st = cohort.states
    n, l = st.shape
    keep_s = np.ones(n, dtype=bool)
    if qc.mind < 1.0:
        miss = np.zeros(n, dtype=np.int64)
        for sl in _blocks(l):
            miss += (np.asarray(st[:, sl]) == MISSING).sum(axis=1)
        keep_s = miss / max(l, 1) <= qc.mind + _EPS
    n_kept = int(keep_s.sum())
    counts = state_counts(st, cohort.n_states, keep_s)
    called = counts.sum(axis=1)
    keep_l = np.ones(l, dtype=bool)
    if qc.geno < 1.0:
        keep_l = (n_kept - called) / max(n_kept, 1) <= qc.geno + _EPS
    removed_geno = int((~keep_l).sum())
    removed_maf = 0
    if qc.maf > 0.0:
        labels = cohort.loci["states"].to_list()
        mf = minor_frequency(counts, labels, cohort.is_biallelic(), cohort.kind)
        low = keep_l & ~(np.nan_to_num(mf, nan=0.0) >= qc.maf - _EPS)
        removed_maf = int(low.sum())
        keep_l &= ~low
    removed_mono = 0
    if qc.drop_monomorphic:
        mono = keep_l & ((counts > 0).sum(axis=1) <= 1)
        removed_mono = int(mono.sum())
        keep_l &= ~mono
    report = QCReport(
        n_samples_in=n,
        n_loci_in=l,
        removed_mind=n - n_kept,
        removed_geno=removed_geno,
        removed_maf=removed_maf,
        removed_monomorphic=removed_mono,
        n_samples_out=n_kept,
        n_loci_out=int(keep_l.sum()),
        maf=qc.maf,
        geno=qc.geno,
        mind=qc.mind,
    )
    return keep_s, keep_l, report


def apply_qc(cohort: Cohort, qc: QCConfig) -> tuple[Cohort, QCReport]:
    """Filter a cohort as plink1.9 would (--mind, --geno, --maf) and drop monomorphic loci.

    The input is returned unchanged (no copy) when nothing is removed.
    """
    keep_s, keep_l, report = qc_masks(cohort, qc)
    if keep_s.all() and keep_l.all():
        return cohort, report
    return cohort.subset(np.flatnonzero(keep_s), np.flatnonzero(keep_l)), report

"""The scan's prepared inputs: small per-sample and per-locus arrays plus a genotype source.

Axis legend: n samples (scan rows), l scanned (biallelic) loci, m weight columns, r columns of
[1, covariates], D digits of the quantised trait.

:class:`ScanInputs` holds everything a tile needs except the genotypes' bytes, which it reads
block by block from the cohort's state matrix: in memory, or memory-mapped from an ``.npy`` file
(the encoded cohort cache) when the inputs travel to another process. Pickling keeps only the
file's path, so Dask tasks and shard runs never carry genotypes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from genoattn.contract import MISSING, Dataset
from genoattn.data.standardise import standardise
from genoattn.interpret.scan.fast import quantise_trait
from genoattn.interpret.scan.kernels import _EPS

_STREAM = 2048  # loci per block when streaming the per-locus moments


@dataclass
class ScanInputs:
    """Prepared scan inputs (O(n + l) memory) and where the genotypes are.

    Attributes:
        loci: shape (l,), int64, cohort indices of the scanned loci.
        rows: shape (n,), int64, rows of the state matrix used, or None for all of them.
        chrom, pos: shape (l,), chromosome (str) and position of each scanned locus.
        missing: shape (l,), bool, locus has a missing call in ``rows``.
        moments: shape (4, l), float64: sum g, sum g^2, sum g y, mean g (called samples).
        weights: shape (n, m), float64, [1, y, y^2, z, z*y, z_j z_k (j <= k)].
        q: shape (n, r), float64, orthonormal basis of [1, covariates].
        y_res: shape (n,), float64, y with [1, covariates] projected out.
        y_mean: mean of y over the scan rows (the weights carry y - y_mean).
        y_digits: shape (D, n), int8, and y_scale: the fixed-point trait of the fast route.
        c: number of covariate columns.
        digest: hash of everything above and the shape of the state matrix.
        states_file: ``.npy`` file holding the state matrix (n_all, l_all) int8, or None.
    """

    loci: np.ndarray
    rows: np.ndarray | None
    chrom: np.ndarray
    pos: np.ndarray
    missing: np.ndarray
    moments: np.ndarray
    weights: np.ndarray
    q: np.ndarray
    y_res: np.ndarray
    y_digits: np.ndarray
    y_scale: float
    c: int
    digest: str
    y_mean: float = 0.0
    states_file: str | None = None
    states: np.ndarray | None = field(default=None, repr=False)

    @property
    def n_loci(self) -> int:
        return len(self.loci)

    def __getstate__(self) -> dict:
        if self.states_file is None:
            raise RuntimeError("scan inputs travel by file: set states_file before pickling")
        return {**self.__dict__, "states": None}

    def genotypes(self) -> np.ndarray:
        """The full state matrix (n_all, l_all) int8, memory-mapped from ``states_file``."""
        if self.states is None:
            self.states = np.load(self.states_file, mmap_mode="r", allow_pickle=False)
        return self.states

    def block(self, sl: slice) -> np.ndarray:
        """shape (n, k), int8: states of the scanned loci ``sl`` (scan indices) in scan rows."""
        st = self.genotypes()
        cols = self.loci[sl]
        if len(cols) and cols[-1] - cols[0] == len(cols) - 1:  # contiguous: a strided view
            x = st[:, cols[0] : cols[-1] + 1]
        else:
            x = st[:, cols]
        out = np.ascontiguousarray(x if self.rows is None else x[self.rows])
        return out if out.flags.writeable else out.copy()  # torch wants writable buffers

    def with_file(self, path: str) -> ScanInputs:
        """The same inputs reading their genotypes from ``path`` (which must hold them)."""
        return ScanInputs(**{**self.__dict__, "states_file": str(path)})


def _states_file(states: np.ndarray) -> str | None:
    """The .npy file a memory-mapped state matrix comes from (None if in memory)."""
    if isinstance(states, np.memmap) and states.filename and states.base is not None:
        return str(states.filename)
    return None


def prepare(dataset: Dataset, rows=None, log: Callable = print) -> ScanInputs:
    """Select rows and biallelic loci, standardise covariates and stream the per-locus moments."""
    cohort = dataset.cohort
    all_rows = (
        rows is None
        or len(rows) == cohort.n_samples
        and np.array_equal(rows, np.arange(cohort.n_samples))
    )
    rows = np.arange(cohort.n_samples) if rows is None else np.asarray(rows, dtype=np.int64)
    bial = cohort.is_biallelic()
    if not bial.all():
        log(f"scan: skipping {int((~bial).sum())} loci that are not biallelic genotypes")
    loci = np.flatnonzero(bial).astype(np.int64)
    y = dataset.y[rows].astype(np.float64)
    y_mean = float(y.mean()) if len(y) else 0.0
    y = y - y_mean
    z = standardise(dataset.covariates[rows])
    n, c = z.shape
    cols = [np.ones(n), y, y * y, *z.T, *(z * y[:, None]).T]
    cols += [z[:, j] * z[:, k] for j in range(c) for k in range(j, c)]
    u, s, _ = np.linalg.svd(np.column_stack([np.ones(n), z]), full_matrices=False)
    q = u[:, s > _EPS * s.max()] if n else u
    y_res = y - q @ (q.T @ y)
    digits, scale = quantise_trait(y_res)
    sub = ScanInputs(
        loci=loci, rows=None if all_rows else rows, chrom=np.zeros(0), pos=np.zeros(0),
        missing=np.zeros(len(loci), bool), moments=np.zeros((4, len(loci))),
        weights=np.column_stack(cols), q=q, y_res=y_res, y_digits=digits, y_scale=scale, c=c,
        digest="", states_file=_states_file(cohort.states), states=cohort.states, y_mean=y_mean,
    )  # fmt: skip
    for j in range(0, len(loci), _STREAM):
        st = sub.block(slice(j, j + _STREAM))  # (n, k) int8
        called = st != MISSING
        g = np.where(called, st, np.int8(0)).astype(np.float64)
        cnt = np.maximum(called.sum(0), 1)
        sub.missing[j : j + _STREAM] = ~called.all(0)
        sums = g.sum(0)
        sub.moments[:, j : j + _STREAM] = [sums, (g * g).sum(0), g.T @ y, sums / cnt]
    sel = cohort.loci[loci.tolist()] if len(loci) else cohort.loci.clear()
    sub.chrom = sel["chrom"].to_numpy().astype(str)
    sub.pos = sel["pos"].to_numpy().astype(np.int64)
    sub.digest = _digest(sub, cohort.states.shape)
    return sub


def _digest(inp: ScanInputs, shape: tuple[int, int]) -> str:
    h = hashlib.sha256(repr(shape).encode())
    # exact quantities only (integer sums, element-wise weights): equal on every machine
    for a in (inp.loci, inp.moments[:2], inp.weights, inp.missing):
        h.update(np.ascontiguousarray(a).tobytes())
    if inp.rows is not None:
        h.update(inp.rows.tobytes())
    return h.hexdigest()[:16]

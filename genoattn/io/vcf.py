"""VCF / bgzipped VCF reader: scikit-allel parses GT in chunks, each encoded to int8 states.

Axis legend: n samples, l loci, m loci in one chunk.

Encoding (see :mod:`genoattn.contract`):

* biallelic site (one ALT, or ALT '.'): state = ALT dosage 0/1/2, labels ``"0" "1" "2"``;
* multi-allelic site: the unordered genotype classes ``a/b`` (allele indices, a <= b, 0 = REF)
  that occur in the cohort, sorted by (a, b); state = index of the class;
* missing: any call with a missing allele (``./.``, half-calls ``./1``) is ``MISSING``. Haploid
  calls (``1``) are read by scikit-allel as half-calls and are therefore missing as well.

Phased and unphased calls encode identically (genotype classes are unordered). Memory is bounded by
the chunk: each chunk is encoded and either kept as a compact int8 block or, when ``out`` is given,
appended to a locus-major ``.npy`` file that is memory-mapped at the end.
"""

from __future__ import annotations

import gzip
import io
import warnings
from pathlib import Path

import numpy as np

from genoattn.contract import MISSING, Cohort, make_loci
from genoattn.errors import GenoattnError, require_file

#: ALT alleles parsed per site; a site with more is rejected (its labels would be truncated).
MAX_ALT = 15
_FIELDS = [
    "variants/CHROM",
    "variants/POS",
    "variants/ID",
    "variants/REF",
    "variants/ALT",
    "calldata/GT",
]
_BIALLELIC_LABELS = ["0", "1", "2"]
#: a chunk's GT array is kept under this size whatever chunk_length asks (biobank-sized cohorts).
MAX_CHUNK_BYTES = 64 * 2**20
_HEADER_BYTES = 128  # fixed-size .npy v1.0 header, rewritten with the final shape on close


class LocusMajorWriter:
    """Appends (m, n) int8 blocks of loci to a ``.npy`` file holding an (n, l) Fortran-order array.

    The header is written last (fixed size), so the number of loci need not be known in advance and
    no block is ever held twice in memory. ``np.load(path, mmap_mode="r")`` reads the result.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._f = open(self.path, "wb")
        self._f.write(b"\0" * _HEADER_BYTES)
        self.n_loci = 0
        self.n_samples: int | None = None

    def append(self, block: np.ndarray) -> None:
        """block: shape (m, n), int8, one row per locus."""
        assert block.dtype == np.int8 and block.ndim == 2
        if self.n_samples is None:
            self.n_samples = block.shape[1]
        assert block.shape[1] == self.n_samples
        self._f.write(np.ascontiguousarray(block).tobytes())
        self.n_loci += block.shape[0]

    def close(self, n_samples: int | None = None) -> None:
        n = self.n_samples if self.n_samples is not None else int(n_samples or 0)
        header = f"{{'descr': '|i1', 'fortran_order': True, 'shape': ({n}, {self.n_loci}), }}"
        header = header.ljust(_HEADER_BYTES - 10 - 1) + "\n"
        assert len(header) == _HEADER_BYTES - 10
        self._f.seek(0)
        self._f.write(b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode())
        self._f.close()

    def abort(self) -> None:
        self._f.close()
        self.path.unlink(missing_ok=True)


class _CheckedStream(io.RawIOBase):
    """File-like wrapper handed to scikit-allel: counts the columns of every data line as the bytes
    stream past (scikit-allel silently accepts truncated lines) and drives the progress bar."""

    def __init__(self, path: Path, n_columns: int, bar=None):
        self._raw = open(path, "rb")
        head = self._raw.read(2)
        self._raw.seek(0)
        self._src = gzip.GzipFile(fileobj=self._raw) if head == b"\x1f\x8b" else self._raw
        self._tabs = n_columns - 1
        self._carry = b""
        self._line = 0
        self._bar = bar
        self._pos = 0
        self.error: str | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        n = self._src.readinto(b)
        if n:
            self._check(self._carry + bytes(memoryview(b)[:n]))
        elif self._carry:
            self._check(self._carry + b"\n")
        if self._bar is not None:
            pos = self._raw.tell()
            self._bar.update(pos - self._pos)
            self._pos = pos
        return n

    def _check(self, data: bytes) -> None:
        lines = data.split(b"\n")
        self._carry = lines.pop()
        for line in lines:
            self._line += 1
            if self.error is None and line[:1] != b"#" and line.strip():
                tabs = line.count(b"\t")
                if tabs != self._tabs:
                    snippet = line[:60].decode("utf-8", "replace")
                    self.error = (
                        f"malformed VCF line {self._line}: expected {self._tabs + 1} "
                        f"tab-separated columns, found {tabs + 1} ({snippet!r})"
                    )

    def close(self) -> None:
        if self._src is not self._raw:
            self._src.close()
        self._raw.close()
        super().close()


def _open_text(path: Path):
    with open(path, "rb") as f:
        gz = f.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rt", errors="replace") if gz else open(path, errors="replace")


def _peek(path: Path) -> tuple[int, str | None]:
    """Validate the header; return (number of columns, FORMAT of the first record or None)."""
    n_cols = None
    try:
        with _open_text(path) as f:
            for line in f:
                if line.startswith("##"):
                    continue
                if line.startswith("#CHROM"):
                    n_cols = len(line.rstrip("\r\n").split("\t"))
                    continue
                if n_cols is None:
                    break
                if line.strip():
                    cols = line.rstrip("\r\n").split("\t")
                    return n_cols, cols[8] if len(cols) > 8 else ""
    except (OSError, EOFError, UnicodeDecodeError) as e:
        raise GenoattnError(f"cannot read VCF ({e})", path) from None
    if n_cols is None:
        raise GenoattnError("not a VCF: missing the '#CHROM ...' header line", path)
    return n_cols, None


def encode_gt_chunk(gt: np.ndarray, n_alt: np.ndarray) -> tuple[np.ndarray, list[list[str]]]:
    """Encode a chunk of genotype calls.

    Args:
        gt: shape (m, n, 2), integer allele indices, negative = missing.
        n_alt: shape (m,), number of ALT alleles of each site (0 for ALT '.').

    Returns:
        states: shape (m, n), int8, local state codes (``MISSING`` = -1), one row per locus.
        labels: per locus, the label of each state in code order.
    """
    # int8 throughout (allele indices <= MAX_ALT, so a + b cannot overflow): the temporaries of a
    # chunk stay a few bytes per call.
    a = gt[..., 0].astype(np.int8, copy=False)
    b = gt[..., 1].astype(np.int8, copy=False)
    miss = (a < 0) | (b < 0)
    top = np.maximum(a, b).max(axis=1, initial=-1)  # shape (m,)
    bad = np.flatnonzero(top > np.maximum(n_alt, 1))
    if len(bad):
        raise ValueError(
            f"GT allele index {top[bad[0]]} at a site with {n_alt[bad[0]]} ALT allele(s)"
        )
    out = a + b  # biallelic: ALT dosage
    out[miss] = MISSING
    labels: list[list[str]] = [_BIALLELIC_LABELS] * len(n_alt)
    for i in np.flatnonzero(n_alt >= 2):
        k = int(n_alt[i]) + 1
        lo = np.minimum(a[i], b[i]).astype(np.int16)
        hi = np.maximum(a[i], b[i]).astype(np.int16)
        code = lo * k + hi
        ok = ~miss[i]
        classes = np.unique(code[ok])
        if len(classes) > 127:
            raise ValueError(f"{len(classes)} genotype classes at one site (int8 holds 127)")
        row = np.full(code.shape, MISSING, dtype=np.int8)
        row[ok] = np.searchsorted(classes, code[ok]).astype(np.int8)
        out[i] = row
        labels[i] = [f"{c // k}/{c % k}" for c in classes.tolist()]
    return out, labels


def read_vcf(
    path: str | Path,
    chunk_length: int = 10_000,
    progress: bool = False,
    out: str | Path | None = None,
) -> Cohort:
    """Read a VCF or bgzipped VCF into a genotype :class:`Cohort`.

    Args:
        path: ``.vcf`` or ``.vcf.gz`` (gzip or bgzip; detected from the bytes, not the name).
        chunk_length: loci parsed per chunk; peak memory of parsing scales with it. Capped so
            that a chunk's GT array (chunk_length x n x 2 bytes) stays under ``MAX_CHUNK_BYTES``.
        progress: show a tqdm progress bar (compressed bytes read).
        out: optional ``.npy`` destination; states are streamed there chunk by chunk and returned
            memory-mapped (shape (n, l), int8, Fortran order), so memory stays bounded by the chunk.

    Returns:
        Cohort with states shape (n, l) int8, loci with CHROM/POS/ID/REF/ALT, sample IDs.

    Raises:
        GenoattnError: missing/empty file, no '#CHROM' header, no samples, no GT field, no variants,
            malformed lines, duplicate sample IDs.
    """
    allel = _allel()
    path = require_file(path)
    n_cols = _checked_header(path)
    chunk_length = max(1, min(chunk_length, MAX_CHUNK_BYTES // (2 * (n_cols - 9))))
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=path.stat().st_size, unit="B", unit_scale=True, desc=path.name)
    stream = _CheckedStream(path, n_cols, bar)
    writer = LocusMajorWriter(out) if out is not None else None
    blocks: list[np.ndarray] = []
    meta: dict[str, list] = {"chrom": [], "pos": [], "id": [], "ref": [], "alt": [], "labels": []}
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            _, samples, _, chunks = allel.iter_vcf_chunks(
                stream, fields=_FIELDS, alt_number=MAX_ALT, chunk_length=chunk_length
            )
            samples = np.asarray([str(s) for s in samples], dtype=object)
            _check_unique(samples, path)
            for chunk, _, _, _ in chunks:
                _fail_on(stream, caught, path)
                _encode_chunk(chunk, meta, blocks if writer is None else writer, path)
            _fail_on(stream, caught, path)
    except GenoattnError:
        if writer is not None:
            writer.abort()
        raise
    except (RuntimeError, ValueError, OSError, EOFError) as e:
        if writer is not None:
            writer.abort()
        raise GenoattnError(f"malformed VCF ({e})", path) from None
    finally:
        stream.close()
        if bar is not None:
            bar.close()

    if writer is not None:
        writer.close(len(samples))
        states = np.load(out, mmap_mode="r", allow_pickle=False)
    else:
        states = _sample_major(blocks, len(samples))
    if states.shape[1] == 0:
        raise GenoattnError("VCF has no variant records", path)
    loci = make_loci(
        meta["chrom"], meta["pos"], meta["id"], meta["ref"], meta["alt"], meta["labels"]
    )
    return Cohort(states, loci, samples)


def _allel():
    """scikit-allel, imported without its optional dask and zarr layers where neither is loaded.

    ``import allel`` imports dask, dask.array and zarr when they are installed, for its Dask
    array classes (``allel.GenotypeDaskArray``, ...) and zarr storage, which this reader never
    uses: about 0.6 s of start-up, most of the package's import cost. allel guards both imports
    with ``try: import ... except ImportError``; entries ``sys.modules[name] = None`` make them
    raise while allel initialises and are removed at once, so dask and zarr stay importable (a
    Dask scan or a VCF-Zarr read later in the process is unaffected). Only allel's own Dask
    classes and zarr storage are missing from such a process."""
    import sys

    if "allel" in sys.modules:
        return sys.modules["allel"]
    blocked = [m for m in ("dask", "zarr") if m not in sys.modules]
    for m in blocked:
        sys.modules[m] = None  # type: ignore[assignment]
    try:
        import allel
    finally:
        for m in blocked:
            if sys.modules.get(m, 0) is None:
                del sys.modules[m]
    return allel


def _checked_header(path: Path) -> int:
    """Columns of the VCF's header line, after checking it has samples, records and GT."""
    n_cols, first_format = _peek(path)
    if n_cols <= 9:
        raise GenoattnError("VCF has no sample columns (need FORMAT and at least one sample)", path)
    if first_format is None:
        raise GenoattnError("VCF has no variant records", path)
    if "GT" not in first_format.split(":"):
        raise GenoattnError(f"no GT field in FORMAT (first record has {first_format!r})", path)
    return n_cols


def _sample_major(blocks: list[np.ndarray], n: int) -> np.ndarray:
    """(n, l) int8 states from locus-major blocks (l_i, n), each released once it is copied."""
    states = np.empty((n, sum(b.shape[0] for b in blocks)), dtype=np.int8)
    j = 0
    blocks.reverse()
    while blocks:
        blk = blocks.pop()
        states[:, j : j + blk.shape[0]] = blk.T
        j += blk.shape[0]
    return states


def _fail_on(stream: _CheckedStream, caught: list, path: Path) -> None:
    if stream.error is not None:
        raise GenoattnError(stream.error, path)
    for w in caught:
        msg = str(w.message).replace("\x00", "")
        # Header-declaration warnings are benign (GT presence is checked in _peek).
        if "header not found" not in msg:
            raise GenoattnError(f"malformed VCF: {msg}", path)
    caught.clear()


def _encode_chunk(chunk: dict, meta: dict, sink, path: Path) -> None:
    alt = chunk["variants/ALT"]  # shape (m, MAX_ALT), '' where absent
    present = alt != ""
    if present[:, -1].any():
        raise GenoattnError(f"a site has more than {MAX_ALT - 1} ALT alleles (unsupported)", path)
    n_alt = present.sum(axis=1)
    chrom, pos = chunk["variants/CHROM"], chunk["variants/POS"]
    try:
        block, labels = encode_gt_chunk(chunk["calldata/GT"], n_alt)
    except ValueError as e:
        raise GenoattnError(f"malformed VCF near {chrom[0]}:{pos[0]}: {e}", path) from None
    ref = chunk["variants/REF"]
    if (ref == "").any():
        i = int(np.flatnonzero(ref == "")[0])
        raise GenoattnError(f"malformed VCF: empty REF at {chrom[i]}:{pos[i]}", path)
    meta["chrom"].extend(chrom.tolist())
    meta["pos"].extend(pos.tolist())
    meta["id"].extend(chunk["variants/ID"].tolist())
    meta["ref"].extend(ref.tolist())
    meta["alt"].extend(
        ",".join(r[: k or 0]) or "." for r, k in zip(alt.tolist(), n_alt.tolist(), strict=True)
    )
    meta["labels"].extend(labels)
    sink.append(block)


def _check_unique(samples: np.ndarray, path: Path) -> None:
    uniq, counts = np.unique(samples.astype(str), return_counts=True)
    if (counts > 1).any():
        dup = uniq[counts > 1][:5].tolist()
        raise GenoattnError(f"duplicate sample IDs {dup}", path)

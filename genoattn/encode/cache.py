"""On-disk cache of encoded, QC'd cohorts, so a second run on the same input skips parsing.

Layout: ``<base>/<key hash>/`` holding

* ``states.npy``: shape (n, l), int8 (loaded with ``np.load(mmap_mode="r", allow_pickle=False)``);
* ``loci.parquet``: the locus table (``LOCUS_SCHEMA``);
* ``samples.parquet``: one column ``sample``;
* ``meta.json``: the key (absolute input paths with size and mtime_ns, reader and QC settings,
  format version), the cohort kind and the QC report.

``<base>`` is ``cfg.cache_dir`` when set, else ``<input>.genoattn_cache/`` beside the input, else
(input directory not writable) ``~/.cache/genoattn/``. Entries are built in a temporary directory
next to their final place and moved there with ``os.replace``, so a reader never sees a partial one.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import uuid
from dataclasses import asdict
from pathlib import Path

import numpy as np
import polars as pl

from genoattn.config import DataConfig
from genoattn.contract import LOCUS_SCHEMA, Cohort
from genoattn.encode.qc import QCReport, apply_qc, qc_masks
from genoattn.errors import GenoattnError, require_file

FORMAT_VERSION = 1
_BLOCK = 4096


def input_files(cfg: DataConfig) -> tuple[str, list[Path]]:
    """The reader kind (``vcf``, ``bfile`` or ``fasta``) and the files it reads (all must exist)."""
    if cfg.vcf:
        return "vcf", [require_file(cfg.vcf)]
    if cfg.bfile:
        base = Path(cfg.bfile)
        if base.suffix in (".bed", ".bim", ".fam"):
            base = base.with_suffix("")
        return "bfile", [
            require_file(base.with_name(base.name + s)) for s in (".bed", ".bim", ".fam")
        ]
    if cfg.pfile:
        from genoattn.io.pgen import pfile_paths

        return "pfile", [require_file(p) for p in pfile_paths(cfg.pfile)]
    if cfg.fasta:
        return "fasta", [require_file(cfg.fasta)]
    raise GenoattnError("data: give one of vcf, bfile or fasta")


def cache_key(cfg: DataConfig) -> dict:
    """Everything the cached encoding depends on; a change in any field means a new entry."""
    kind, files = input_files(cfg)
    inputs = []
    for p in files:
        st = p.stat()
        inputs.append({"path": str(p.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns})
    reader = {"kind": kind, "alphabet": cfg.alphabet if kind == "fasta" else None}
    return {
        "format_version": FORMAT_VERSION,
        "inputs": inputs,
        "reader": reader,
        "qc": asdict(cfg.qc),
    }


def _writable(d: Path) -> bool:
    try:
        d.mkdir(parents=True, exist_ok=True)
        probe = d / f".probe-{uuid.uuid4().hex}"
        probe.touch()
        probe.unlink()
        return True
    except OSError:
        return False


def cache_base(cfg: DataConfig, key: dict) -> Path:
    """Directory holding this input's cache entries (created)."""
    if cfg.cache_dir:
        base = Path(cfg.cache_dir)
        if not _writable(base):
            raise GenoattnError("cache directory cannot be written", base)
        return base
    first = Path(key["inputs"][0]["path"])
    stem = first.with_suffix("").name if key["reader"]["kind"] in ("bfile", "pfile") else first.name
    beside = first.parent / f"{stem}.genoattn_cache"
    if _writable(beside):
        return beside
    tag = hashlib.sha256(str(first).encode()).hexdigest()[:8]
    home = Path.home() / ".cache" / "genoattn" / f"{stem}-{tag}"
    if not _writable(home):
        raise GenoattnError(f"no writable cache directory (tried {beside} and {home})")
    return home


def _digest(key: dict) -> str:
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:16]


def read_entry(entry: Path, key: dict) -> tuple[Cohort, QCReport] | None:
    """The cached cohort (states memory-mapped) if ``entry`` holds one for exactly ``key``."""
    meta_path = entry / "meta.json"
    if not meta_path.is_file():
        return None
    try:
        meta = json.loads(meta_path.read_text())
        if meta.get("key") != key:
            return None
        states = np.load(entry / "states.npy", mmap_mode="r", allow_pickle=False)
        loci = pl.read_parquet(entry / "loci.parquet")
        samples = pl.read_parquet(entry / "samples.parquet")["sample"].to_list()
        if dict(loci.schema) != LOCUS_SCHEMA or states.dtype != np.int8:
            return None
        cohort = Cohort(states, loci, np.asarray(samples, dtype=object), meta["kind"])
        return cohort, QCReport(**meta["qc_report"])
    except (OSError, ValueError, KeyError, TypeError, AssertionError, pl.exceptions.PolarsError):
        return None


def _parse(kind: str, cfg: DataConfig, progress: bool, tmp: Path) -> tuple[Cohort, QCReport]:
    """Read the input and apply QC, writing ``tmp/states.npy``; returns the cohort before saving."""
    if kind == "vcf":
        from genoattn.io.vcf import LocusMajorWriter, read_vcf

        raw_path = tmp / "raw_states.npy"
        raw = read_vcf(cfg.vcf, progress=progress, out=raw_path)
        keep_s, keep_l, report = qc_masks(raw, cfg.qc)
        if keep_s.all() and keep_l.all():
            os.replace(raw_path, tmp / "states.npy")
            return raw, report
        # Stream the kept columns into a new file block by block: memory stays bounded.
        writer = LocusMajorWriter(tmp / "states.npy")
        for j in range(0, raw.n_loci, _BLOCK):
            cols = np.flatnonzero(keep_l[j : j + _BLOCK])
            blk = np.asarray(raw.states[:, j : j + _BLOCK])[keep_s][:, cols]  # (n_kept, m)
            writer.append(np.ascontiguousarray(blk.T))
        writer.close(int(keep_s.sum()))
        loci = raw.loci[np.flatnonzero(keep_l).tolist()]
        samples = raw.samples[keep_s]
        del raw
        raw_path.unlink()
        states = np.load(tmp / "states.npy", mmap_mode="r", allow_pickle=False)
        return Cohort(states, loci, samples, "genotype"), report
    if kind == "bfile":
        from genoattn.io.plink import read_bed

        cohort = read_bed(cfg.bfile)
    elif kind == "pfile":
        from genoattn.io.pgen import read_pgen

        cohort = read_pgen(cfg.pfile)
    else:
        from genoattn.io.fasta import read_fasta

        cohort = read_fasta(cfg.fasta, cfg.alphabet)
    cohort, report = apply_qc(cohort, cfg.qc)
    np.save(tmp / "states.npy", np.asarray(cohort.states), allow_pickle=False)
    return cohort, report


def load_cohort(cfg: DataConfig, progress: bool = False, log=print) -> tuple[Cohort, QCReport]:
    """Read the genotype/sequence input of ``cfg``, apply ``cfg.qc`` and cache the result.

    A later call with the same key (same files, sizes, mtimes, reader and QC settings) loads the
    cached entry memory-mapped without parsing.

    Returns:
        the QC'd cohort (states shape (n, l) int8, memory-mapped from the cache) and the QC report.
    """
    key = cache_key(cfg)
    base = cache_base(cfg, key)
    entry = base / _digest(key)
    hit = read_entry(entry, key)
    if hit is not None:
        log(f"cache: loaded {hit[0].n_samples} samples x {hit[0].n_loci} loci from {entry}")
        return hit
    kind = key["reader"]["kind"]
    tmp = base / f".tmp-{entry.name}-{uuid.uuid4().hex[:8]}"
    tmp.mkdir(parents=True)
    try:
        cohort, report = _parse(kind, cfg, progress, tmp)
        cohort.loci.write_parquet(tmp / "loci.parquet")
        pl.DataFrame(
            {"sample": [str(s) for s in cohort.samples]}, schema={"sample": pl.String}
        ).write_parquet(tmp / "samples.parquet")
        meta = {"key": key, "kind": cohort.kind, "qc_report": report.to_dict()}
        (tmp / "meta.json").write_text(json.dumps(meta, indent=1))
        del cohort
        if entry.exists():  # stale or unreadable entry for the same key
            shutil.rmtree(entry, ignore_errors=True)
        try:
            os.replace(tmp, entry)
        except OSError:  # another process finished the same entry first
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    hit = read_entry(entry, key)
    if hit is None:
        raise GenoattnError("cache entry could not be read back after writing", entry)
    n, l = hit[0].states.shape
    log(f"cache: parsed {kind}, wrote {n} samples x {l} loci to {entry}")
    return hit

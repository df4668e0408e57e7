"""Partial scan tables (shards) on disk and their merge into the table a single scan writes.

A shard is a Parquet file with typed columns (idx_a, idx_b, n: Int64; statistics: Float64) and
one key-value metadata entry ``genoattn.scan`` (JSON): format version, the scan spec (test, top,
P threshold, distance rule, tile grid), the digest of the prepared inputs, the inputs' record
(files with sizes and mtimes, trait, QC), shard K of N with its tile list, and the number of
tests and pairs in the shard. Merging checks that all shards come from one scan and that the set
is complete, then keeps the best ``top`` rows of their union under the scan's total order
(:mod:`genoattn.interpret.scan.tiles`), which is exactly what one process keeps.
"""

from __future__ import annotations

import json
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

from genoattn.atomic import atomic_path
from genoattn.errors import GenoattnError, require_file
from genoattn.interpret.scan.engine import ScanRun, to_run
from genoattn.interpret.scan.tiles import Partial, ScanSpec, TileGrid, merge

KEY = b"genoattn.scan"
VERSION = 1


def spec_record(spec: ScanSpec) -> dict:
    return asdict(spec)


def spec_from(rec: dict) -> ScanSpec:
    return ScanSpec(**{**rec, "grid": TileGrid(**rec["grid"])})


def record(run: ScanRun, inputs: dict, shard: tuple[int, int] | None) -> dict:
    """The metadata of a scan table (a shard or a whole scan)."""
    return {
        "version": VERSION,
        "spec": spec_record(run.spec),
        "digest": run.digest,
        "inputs": inputs,
        "shard": None if shard is None else list(shard),
        "tiles": run.tiles,
        "n_tiles": len(run.spec.grid.tiles()),
        "n_tests": run.n_tests,
        "n_pairs": run.n_pairs,
    }


def write_shard(run: ScanRun, path: str | Path, inputs: dict, shard: tuple[int, int]) -> Path:
    """Write the shard's kept rows and record as Parquet, atomically."""
    import pyarrow.parquet as pq

    path = Path(path)
    if not path.parent.is_dir():
        raise GenoattnError("output directory does not exist", path.parent)
    table = run.table.to_arrow()
    meta = {**(table.schema.metadata or {}), KEY: json.dumps(record(run, inputs, shard)).encode()}
    with atomic_path(path) as tmp:
        pq.write_table(table.replace_schema_metadata(meta), tmp)
    return path


def read_shard(path: str | Path) -> tuple[Partial, dict]:
    """The rows and record of one shard file."""
    import polars as pl
    import pyarrow.parquet as pq

    path = require_file(path)
    try:
        table = pq.read_table(path)
    except Exception as e:  # pyarrow raises several types for a non-Parquet file
        raise GenoattnError(f"not a readable Parquet shard ({type(e).__name__})", path) from None
    raw = (table.schema.metadata or {}).get(KEY)
    if raw is None:
        raise GenoattnError("not a genoattn scan shard (no genoattn.scan metadata)", path)
    rec = json.loads(raw)
    if rec.get("version") != VERSION or rec.get("shard") is None:
        raise GenoattnError(f"unsupported shard record (version {rec.get('version')})", path)
    df = pl.from_arrow(table)
    rows = {c: df[c].to_numpy() for c in df.columns}
    return Partial(rows, rec["n_tests"], rec["n_pairs"], rec["tiles"]), rec


_SAME = ("spec", "digest", "inputs", "n_tiles")


def merge_shards(paths: list[str | Path], top: int | None = None) -> tuple[ScanRun, dict]:
    """Merge shard files into one scan (refusing mixed or incomplete sets).

    Args:
        top: keep the best ``top`` rows (default: the shards' own top; at most that).

    Returns:
        the merged run and its record (inputs as recorded by the shards).
    """
    if not paths:
        raise GenoattnError("merge: give the shard files to merge")
    shards = [(Path(p), *read_shard(p)) for p in paths]
    p0, _, r0 = shards[0]
    for p, _, r in shards[1:]:
        for k in _SAME:
            if r[k] != r0[k]:
                raise GenoattnError(f"shard of a different scan than {p0} ({k} differs)", p)
        if r["shard"][1] != r0["shard"][1]:
            raise GenoattnError(f"shard of a {r['shard'][1]}-way split, {p0} of a "
                                f"{r0['shard'][1]}-way split", p)  # fmt: skip
    n = r0["shard"][1]
    got = [r["shard"][0] for _, _, r in shards]
    dup = sorted({k for k in got if got.count(k) > 1})
    if dup:
        raise GenoattnError(f"merge: shard(s) {dup} of {n} given more than once")
    missing = sorted(set(range(1, n + 1)) - set(got))
    if missing:
        raise GenoattnError(f"merge: incomplete set, shard(s) {missing} of {n} missing")
    tiles = sorted(t for _, part, _ in shards for t in part.tiles)
    if tiles != list(range(r0["n_tiles"])):
        raise GenoattnError(f"merge: the shards cover {len(tiles)} of {r0['n_tiles']} tiles")
    spec = spec_from(r0["spec"])
    if top is not None:
        most = spec.report or spec.top
        if most is not None and top > most:
            raise GenoattnError(f"merge: --top {top} exceeds the shards' top {most}")
        spec = replace(spec, report=top)
    part = merge([s[1] for s in shards], spec)
    run = to_run(part, spec, r0["digest"])
    return run, record(run, r0["inputs"], None)


def write_record(rec: dict, table_path: str | Path) -> Path:
    """Write a scan's record beside its table: ``<table>.scan.json`` (atomically)."""
    out = Path(f"{table_path}.scan.json")
    rec = {k: v for k, v in rec.items() if k not in ("tiles", "shard")}
    with atomic_path(out) as tmp:
        tmp.write_text(json.dumps(rec, indent=1, default=_jsonable) + "\n")
    return out


def _jsonable(v):
    if isinstance(v, np.generic):
        return v.item()
    raise TypeError(type(v).__name__)

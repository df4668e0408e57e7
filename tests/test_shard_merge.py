"""Deterministic tiles: any grouping of tiles, shards + merge, reproduce the single-process scan."""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from test_scan import make_dataset

from genoattn.cli.app import run
from genoattn.errors import GenoattnError
from genoattn.interpret.scan import run_scan
from genoattn.interpret.scan.inputs import prepare
from genoattn.interpret.scan.shards import merge_shards, write_shard
from genoattn.interpret.scan.tiles import merge, run_tile


@pytest.mark.parametrize(
    "test,missing,c,top,thr",
    [
        ("product", 0.0, 0, 15, None),
        ("product", 0.03, 2, None, 0.2),
        ("genotype", 0.02, 1, 12, None),
    ],
)
def test_tiles__any_grouping_gives_the_single_scan(test, missing, c, top, thr):
    ds = make_dataset(n=180, l=23, c=c, missing=missing, seed=4)
    whole = run_scan(ds, test, top=top, p_threshold=thr, block=5, log=lambda *_: None)
    inp = prepare(ds, log=lambda *_: None)
    n_tiles = len(whole.spec.grid.tiles())
    assert n_tiles > 10
    # tiles one by one, merged in reverse order, give the same rows and the same test count
    parts = [run_tile(inp, whole.spec, t) for t in reversed(range(n_tiles))]
    merged = merge(parts, whole.spec)
    assert pl.DataFrame(merged.rows).cast({"n": pl.Int64}).equals(whole.table)
    assert merged.n_tests == whole.n_tests
    for k, n in ((1, 1), (2, 3), (4, 4)):
        part = run_scan(ds, test, top, thr, block=5, shard=(k, n), log=lambda *_: None)
        assert part.tiles == list(range(k - 1, n_tiles, n))


def test_tiles__count_tests_for_multiplicity():
    ds = make_dataset(n=120, l=12, seed=1)
    run = run_scan(ds, "product", top=3, log=lambda *_: None)
    assert run.n_tests == run.n_pairs == 12 * 11 // 2
    far = run_scan(ds, "product", top=3, min_distance_bp=3000, log=lambda *_: None)
    assert far.n_pairs == sum(1 for a in range(12) for b in range(a + 3, 12))


def test_shards__write_and_merge_equal_single_scan(tmp_path):
    ds = make_dataset(n=200, l=30, c=1, missing=0.02, seed=8, planted=(2, 19))
    kw = dict(top=20, block=6, log=lambda *_: None)
    whole = run_scan(ds, "product", **kw)
    paths = []
    for k in (3, 1, 2):
        part = run_scan(ds, "product", shard=(k, 3), **kw)
        paths.append(write_shard(part, tmp_path / f"s{k}.parquet", {"x": 1}, (k, 3)))
    merged, rec = merge_shards(paths)
    assert merged.table.equals(whole.table) and merged.n_tests == whole.n_tests
    assert rec["n_tests"] == whole.n_tests and rec["shard"] is None
    top5, _ = merge_shards(paths, top=5)  # reports 5 rows; the surplus stays for clumping
    assert top5.spec.report == 5 and top5.table.head(5).equals(whole.table.head(5))
    with pytest.raises(GenoattnError, match=r"shard\(s\) \[1\] of 3 missing"):
        merge_shards(paths[:1] + paths[2:])
    with pytest.raises(GenoattnError, match="more than once"):
        merge_shards(paths + paths[:1])
    with pytest.raises(GenoattnError, match="exceeds"):
        merge_shards(paths, top=21)
    other = make_dataset(n=200, l=30, c=1, missing=0.02, seed=9)
    odd = write_shard(run_scan(other, "product", shard=(2, 3), **kw), tmp_path / "o.parquet",
                      {"x": 1}, (2, 3))  # fmt: skip
    with pytest.raises(GenoattnError, match="different scan"):
        merge_shards([paths[0], odd, paths[2]])
    (tmp_path / "bad.parquet").write_text("not parquet")
    with pytest.raises(GenoattnError, match="not a readable Parquet"):
        merge_shards([tmp_path / "bad.parquet"])


def _bed(tmp_path: Path, ds) -> str:
    from test_scan import _plink_files

    return str(_plink_files(tmp_path, ds))


def test_cli_shard_merge__same_table_and_record_as_scan(tmp_path, capsys):
    ds = make_dataset(n=160, l=40, seed=12, planted=(5, 30), missing=0.01)
    prefix = _bed(tmp_path, ds)
    common = ["--bfile", prefix, "--pheno", f"{prefix}.pheno", "--top", "25", "--no-progress"]
    assert run(["scan", *common, "--clump", "--out", str(tmp_path / "one.tsv")]) == 0
    shards = [str(tmp_path / f"p{k}.parquet") for k in (1, 2)]
    for k, p in enumerate(shards, 1):
        assert run(["scan", *common, "--shard", f"{k}/2", "--out", p]) == 0
    elsewhere = tmp_path / "sub"
    elsewhere.mkdir()
    out = str(elsewhere / "merged.tsv")
    assert run(["merge", *shards, "--clump", "--out", out]) == 0
    assert (tmp_path / "one.tsv").read_text() == Path(out).read_text()
    one = json.loads((tmp_path / "one.tsv.scan.json").read_text())
    assert one == json.loads(Path(f"{out}.scan.json").read_text())
    assert one["n_tests"] == 40 * 39 // 2
    capsys.readouterr()
    assert run(["merge", shards[0], "--out", out]) == 2
    assert "shard(s) [2] of 2 missing" in capsys.readouterr().err
    assert run(["scan", *common, "--shard", "3/2", "--out", shards[0]]) == 2
    assert run(["scan", *common, "--shard", "1/2", "--out", str(tmp_path / "x.tsv")]) == 2
    with open(f"{prefix}.pheno", "a") as f:
        f.write("extra extra 1.0\n")
    assert run(["merge", *shards, "--out", out]) == 2
    assert "changed since the shards were written" in capsys.readouterr().err

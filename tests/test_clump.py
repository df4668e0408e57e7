"""LD clumping of ranked interactions on hand-made LD, pairwise-complete r^2, and table output."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from genoattn.contract import MISSING, Cohort, make_loci
from genoattn.errors import GenoattnError
from genoattn.interpret.clump import clump, ld_r2
from genoattn.interpret.table import locus_columns, pair_table, triple_table, write_table


def ld_cohort(chroms=("1",) * 8, seed=0):
    """Loci 0/1 and 2/3 are exact copies; 4..7 independent."""
    rng = np.random.default_rng(seed)
    g = rng.binomial(2, 0.4, size=(200, 8)).astype(np.int8)
    g[:, 1], g[:, 3] = g[:, 0], g[:, 2]
    l = len(chroms)
    loci = make_loci(chroms, 1000 * np.arange(1, l + 1), [f"rs{j}" for j in range(l)], ["A"] * l,
                     ["G"] * l, [["0", "1", "2"]] * l)  # fmt: skip
    return Cohort(g, loci, np.arange(200).astype(str))


def ranked(pairs):
    p = np.array(pairs)
    return pl.DataFrame({"idx_a": p[:, 0], "idx_b": p[:, 1], "P": np.linspace(1e-9, 1e-3, len(p))})


def test_clump__merges_ld_copies_in_either_orientation():
    out = clump(ranked([(0, 2), (1, 3), (3, 0), (4, 5), (1, 6)]), ld_cohort())
    assert out["idx_a"].to_list() == [0, 4, 1]
    assert out["n_tagged"].to_list() == [2, 0, 0]
    assert out["tagged"][0] == "rs1|rs3,rs3|rs0"


def test_clump__respects_window_and_threshold():
    far = ld_cohort(chroms=("1", "2", "1", "1", "1", "1", "1", "1"))
    assert clump(ranked([(0, 2), (1, 3)]), far)["n_tagged"].to_list() == [0, 0]
    assert clump(ranked([(0, 2), (1, 3)]), ld_cohort(), window_kb=0.5).height == 2
    assert clump(ranked([(0, 2), (1, 3)]), ld_cohort(), window_kb=1.0).height == 1
    assert clump(ranked([(0, 4), (0, 5)]), ld_cohort(), r2=0.5).height == 2


def test_clump__triples_and_truncated_listing():
    rows = pl.DataFrame({"idx_a": [0, 1, 1, 0], "idx_b": [2, 3, 2, 3], "idx_c": [4, 4, 4, 4]})
    out = clump(rows, ld_cohort(), max_listed=2)
    assert out.height == 1 and out["n_tagged"][0] == 3
    assert out["tagged"][0].endswith("+1 more")


def test_ld_r2__pairwise_complete_matches_corrcoef():
    rng = np.random.default_rng(1)
    st = rng.binomial(2, 0.3, size=(100, 4)).astype(np.int8)
    st[:, 1] = np.where(rng.random(100) < 0.8, st[:, 0], st[:, 1])
    st[rng.random((100, 4)) < 0.1] = MISSING
    r2 = ld_r2(st)
    for i in range(4):
        for j in range(4):
            ok = (st[:, i] != MISSING) & (st[:, j] != MISSING)
            expect = np.corrcoef(st[ok, i], st[ok, j])[0, 1] ** 2
            assert r2[i, j] == pytest.approx(expect, rel=1e-9)


def test_table__locus_columns_and_atomic_writes(tmp_path):
    cohort = ld_cohort()
    loc = locus_columns(cohort.loci, np.array([2, 0]), "a")
    assert loc.columns == ["chrom_a", "pos_a", "id_a", "ref_a", "alt_a"]
    assert loc["id_a"].to_list() == ["rs2", "rs0"] and loc["pos_a"].to_list() == [3000, 1000]
    t = pair_table(cohort.loci, [0, 1], [2, 3], pl.DataFrame({"P": [0.1, 0.2]}))
    assert t.columns[:6] == ["chrom_a", "pos_a", "id_a", "ref_a", "alt_a", "chrom_b"]
    assert t.columns[-1] == "P"
    assert triple_table(cohort.loci, [0], [1], [2])["id_c"].to_list() == ["rs2"]
    write_table(t, tmp_path / "t.tsv")
    assert pl.read_csv(tmp_path / "t.tsv", separator="\t", schema=t.schema).equals(t)
    write_table(t, tmp_path / "t.parquet")
    assert pl.read_parquet(tmp_path / "t.parquet").equals(t)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.parquet", "t.tsv"]
    with pytest.raises(GenoattnError, match="does not exist"):
        write_table(t, tmp_path / "missing" / "t.tsv")
    with pytest.raises(GenoattnError, match="directory"):
        write_table(t, tmp_path)

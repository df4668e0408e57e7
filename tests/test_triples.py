"""Planted 3-way terms of every kind are found by ``scan --order 3`` and by ``fit --model ha``.

Oracles: the simulator's truth table (planted triples); today's pair-extension search as the
contrast; the class codes recovered from contrasts against the genotypes they came from.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import torch

from genoattn.cli.app import run
from genoattn.contract import MISSING, token_offsets
from genoattn.simulate import SimConfig, simulate
from genoattn.sparse.contrasts import fit_contrasts
from genoattn.stats.candidates import (
    candidate_triples,
    classes_from_contrasts,
    classes_from_states,
)

KINDS = ("pure", "product", "dominance")


def _ok(argv) -> None:
    rc = run([str(a) for a in argv])
    assert rc == 0, argv


def _truth(sim_dir) -> dict[str, set[str]]:
    truth = pl.read_csv(sim_dir / "truth.tsv", separator="\t", null_values="NA")
    rows = truth.filter(pl.col("order") == 3).iter_rows(named=True)
    return {r["kind"]: {r["id_a"], r["id_b"], r["id_c"]} for r in rows}


def _ranked(table) -> list[set[str]]:
    t = pl.read_csv(table, separator="\t")
    return [set(r) for r in t.select("ID_A", "ID_B", "ID_C").iter_rows()]


def _inputs(sim_dir) -> list:
    return ["--vcf", sim_dir / "cohort.vcf.gz", "--pheno", sim_dir / "pheno.tsv",
            "--covar", sim_dir / "covar.tsv"]  # fmt: skip


@pytest.fixture(scope="module")
def projected(tmp_path_factory):
    """1,200 samples x 60 loci, one triple of each kind reduced to its pure 3-way part."""
    out = tmp_path_factory.mktemp("triples") / "sim"
    _ok(["simulate", "--out", out, "--samples", 1200, "--loci", 60, "--pairs", "none",
         "--triples", ",".join(KINDS), "--h2-triple", 0.12, "--triple-lower", "project",
         "--seed", 1])  # fmt: skip
    return out


def test_scan_order3__every_projected_kind_in_top10(projected, tmp_path):
    table = tmp_path / "scan3.tsv"
    _ok(["scan", *_inputs(projected), "--order", 3, "--test", "genotype", "--top", 10,
         "--out", table, "--no-progress"])  # fmt: skip
    ranked = _ranked(table)
    for kind, loci in _truth(projected).items():
        assert loci in ranked, kind
    head = pl.read_csv(table, separator="\t").columns
    assert [c for c in head if c in ("N", "STAT", "DF1", "DF2", "P")] == [
        "N", "STAT", "DF1", "DF2", "P"
    ]  # fmt: skip


def test_scan_order3_product__raw_product_triple_in_top10(tmp_path):
    """Lower-order projections kept: the 1-df product test still ranks the product triple."""
    sim = tmp_path / "sim"
    _ok(["simulate", "--out", sim, "--samples", 1200, "--loci", 60, "--pairs", "none",
         "--triples", "pure,product,dominance", "--h2-triple", 0.2, "--seed", 2])  # fmt: skip
    table = tmp_path / "scan3.tsv"
    _ok(["scan", *_inputs(sim), "--order", 3, "--test", "product", "--top", 10,
         "--out", table, "--no-progress"])  # fmt: skip
    assert _truth(sim)["product"] in _ranked(table)
    head = pl.read_csv(table, separator="\t").columns
    assert [c for c in head if c in ("N", "BETA", "SE", "STAT", "P")] == [
        "N", "BETA", "SE", "STAT", "P"
    ]  # fmt: skip


@pytest.mark.slow
def test_fit_ha_export_order3__every_projected_kind_in_top10(projected, tmp_path):
    out, table = tmp_path / "run", tmp_path / "triples.tsv"
    _ok(["fit", *_inputs(projected), "--model", "ha", "--seed", 0, "--no-progress",
         "--out", out])  # fmt: skip
    _ok(["export", out, "--order", 3, "--top", 10, "--out", table])
    ranked = _ranked(table)
    for kind, loci in _truth(projected).items():
        assert loci in ranked, kind
    t = pl.read_csv(table, separator="\t")
    assert (t["N"] == 180).all()  # confirmed on the 15 % test samples


def _train_inputs(cfg: SimConfig):
    sim = simulate(cfg)
    st = sim.cohort.states
    con = fit_contrasts(st, sim.cohort.n_states, min_count=3)
    z = torch.as_tensor(con.table[sim.cohort.tokens()])
    y = sim.trait.values - sim.trait.values.mean()
    return sim, z, torch.as_tensor(y)


def _planted(sim) -> dict[str, list[int]]:
    rows = sim.truth.filter(pl.col("order") == 3).iter_rows(named=True)
    return {r["kind"]: sorted([r["locus_a"], r["locus_b"], r["locus_c"]]) for r in rows}


def test_candidate_triples__exhaustive_admits_pure_triple_pairs_mode_does_not():
    sim, z, r = _train_inputs(
        SimConfig(n_samples=800, n_loci=50, pairs=[], triples=["pure"], h2_triple=0.15, seed=3)
    )
    pure = _planted(sim)["pure"]
    trip, score = candidate_triples(z, r, 20, "auto")
    assert pure in trip.tolist()[:3]
    assert (trip[:, 0] < trip[:, 1]).all() and (trip[:, 1] < trip[:, 2]).all()
    assert (np.diff(score) <= 0).all()
    ext = (np.array([[0, 1, 2]]), np.array([1e9]))  # an extension is merged in, kept on top
    trip2, _ = candidate_triples(z, r, 20, "pairs", extend=ext)
    assert trip2.tolist() == [[0, 1, 2]]


def test_candidate_triples__focus_mode_keeps_loci_with_variance_signal():
    """Beyond the exhaustive bound, a dominance triple (main and variance traces) is admitted."""
    sim, z, r = _train_inputs(
        SimConfig(n_samples=1000, n_loci=120, pairs=[], triples=["dominance"], h2_triple=0.2,
                  n_additive=0, seed=4)
    )  # fmt: skip
    dom = _planted(sim)["dominance"]
    trip, _ = candidate_triples(z, r, 30, "auto", max_exhaustive_loci=24)
    assert dom in trip.tolist()


def test_classes_from_contrasts__same_partition_as_genotypes():
    rng = np.random.default_rng(0)
    st = rng.binomial(2, [0.2, 0.5, 0.4, 0.1], size=(300, 4)).astype(np.int8)
    st[rng.random(st.shape) < 0.05] = MISSING
    n_states = np.full(4, 3)
    con = fit_contrasts(st, n_states)
    tok = np.where(st == MISSING, 0, token_offsets(n_states)[None, :] + st + 1)
    cls = classes_from_contrasts(torch.as_tensor(con.table[tok]))
    np.testing.assert_array_equal(cls == MISSING, st == MISSING)
    for j in range(4):
        ok = st[:, j] != MISSING
        pairs = set(zip(st[ok, j].tolist(), cls[ok, j].tolist(), strict=True))
        assert len(pairs) == len({a for a, _ in pairs}) == len({b for _, b in pairs})
        counts = np.bincount(cls[ok, j], minlength=3)
        assert counts[0] == counts.max()  # class 0 = most common genotype


def test_classes_from_states__same_classes_as_from_contrasts():
    """The sparse fit's int8 route gives the classes of the dense contrast route, pooled
    rare states (contrast 0) included."""
    rng = np.random.default_rng(1)
    st = rng.binomial(2, [0.2, 0.5, 0.4, 0.03], size=(400, 4)).astype(np.int8)
    st[rng.random(st.shape) < 0.05] = MISSING
    n_states = np.full(4, 3)
    con = fit_contrasts(st, n_states, min_count=20)  # locus 3's rare class is pooled
    tok = np.where(st == MISSING, 0, token_offsets(n_states)[None, :] + st + 1)
    dense = classes_from_contrasts(torch.as_tensor(con.table[tok]))
    fast = classes_from_states(torch.as_tensor(st), torch.as_tensor(con.locus))
    np.testing.assert_array_equal(fast, dense)


def test_scan_cli__order2_default_still_writes_pairs(projected, tmp_path):
    table = tmp_path / "pairs.tsv"
    _ok(["scan", *_inputs(projected), "--top", 5, "--out", table, "--no-progress"])
    t = pl.read_csv(table, separator="\t")
    assert t.height == 5 and "ID_B" in t.columns and "ID_C" not in t.columns
    assert [c for c in t.columns if c in ("N", "BETA", "SE", "STAT", "P")] == [
        "N", "BETA", "SE", "STAT", "P"
    ]  # fmt: skip


def test_scan_cli__order_out_of_range_is_a_usage_error(projected, tmp_path):
    rc = run([str(a) for a in ["scan", *_inputs(projected), "--order", 4, "--out",
                               tmp_path / "x.tsv"]])  # fmt: skip
    assert rc == 2
    assert not (tmp_path / "x.tsv").exists()

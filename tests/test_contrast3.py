"""The contrast-score route for triples beyond the exhaustive bound (genoattn/stats/contrast3.py).

Oracles: an explicit per-triple sum (naive reference), the simulator's planted triples, and the
exhaustive scan's exact statistics for the same triples.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import polars as pl
import pytest
import torch

from genoattn.cli.app import run
from genoattn.contract import MISSING
from genoattn.simulate import SimConfig, simulate
from genoattn.stats import candidates
from genoattn.stats.contrast3 import contrast_screen, exact_fast_f, naive_contrast_scores
from genoattn.stats.scan3 import prepare_triples, scan_triples, screen_all

KINDS = ("pure", "product", "dominance")


def _ok(argv) -> None:
    assert run([str(a) for a in argv]) == 0, argv


@pytest.fixture(scope="module")
def cohort120(tmp_path_factory):
    """1,500 samples x 120 loci, one triple of each kind reduced to its pure 3-way part.

    Seed 3: no two loci of a planted triple in LD above r^2 0.1. The HA fit never admits a
    triple with two loci above its max_pair_r2 (0.2), and the contrast score loses power when
    two loci of the triple are in LD (README, higher-order section).
    """
    out = tmp_path_factory.mktemp("contrast") / "sim"
    _ok(["simulate", "--out", out, "--samples", 1500, "--loci", 120, "--pairs", "none",
         "--triples", ",".join(KINDS), "--h2-triple", 0.1, "--triple-lower", "project",
         "--seed", 3])  # fmt: skip
    truth = pl.read_csv(out / "truth.tsv", separator="\t", null_values="NA")
    rows = truth.filter(pl.col("order") == 3).iter_rows(named=True)
    return out, {r["kind"]: {r["id_a"], r["id_b"], r["id_c"]} for r in rows}


def _inputs(sim_dir) -> list:
    return ["--vcf", sim_dir / "cohort.vcf.gz", "--pheno", sim_dir / "pheno.tsv",
            "--covar", sim_dir / "covar.tsv"]  # fmt: skip


def _ranked(table) -> list[set[str]]:
    t = pl.read_csv(table, separator="\t")
    return [set(r) for r in t.select("ID_A", "ID_B", "ID_C").iter_rows()]


def test_contrast_screen__scores_equal_naive_sums_and_cover_every_triple():
    rng = np.random.default_rng(0)
    n, l = 300, 11
    g = rng.binomial(2, rng.uniform(0.1, 0.5, l), (n, l)).astype(np.int8)
    g[:, 4] = np.where(rng.random(n) < 0.9, g[:, 3], g[:, 4])  # loci 3 and 4 in LD
    g[rng.random((n, l)) < 0.03] = MISSING
    y = rng.normal(size=n) + 0.5 * g[:, 0]  # a main effect: the centring keeps it out
    hits = contrast_screen(g, y, pool=1000, block=4, chunk=3)
    assert sorted(map(tuple, hits.idx.tolist())) == list(combinations(range(l), 3))
    np.testing.assert_allclose(  # float32 tiles: absolute 1e-5 on scores of order 8
        hits.score, naive_contrast_scores(g, y, hits.idx), rtol=1e-4, atol=1e-5
    )
    assert (np.diff(hits.score) <= 0).all()
    masked = contrast_screen(g, y, pool=1000, block=4, chunk=3, max_r2=0.5)
    assert not any(3 in t and 4 in t for t in masked.idx.tolist())
    assert len(masked.idx) == len(hits.idx) - (l - 2)
    assert 6.0 < masked.score.mean() < 10.0  # about chi-square 8 under the null (no LD)


def test_contrast_route__same_statistics_as_exhaustive_for_the_same_triples(cohort120):
    sim = simulate(SimConfig(n_samples=600, n_loci=30, pairs=[], triples=["pure"],
                             h2_triple=0.2, seed=5))  # fmt: skip
    ds = sim.dataset()
    kw = dict(test="genotype", top=50, device="cpu", log=lambda *_: None)
    ex = scan_triples(ds, **kw)
    co = scan_triples(ds, candidates="contrast", **kw)
    both = ex.join(co, on=["idx_a", "idx_b", "idx_c"], suffix="_c")
    assert both.height >= 40
    for col in ("F", "DF1", "DF2", "P", "n"):
        np.testing.assert_allclose(both[col], both[f"{col}_c"], rtol=1e-12)
    # the HA route's exact F equals the exhaustive screen's F (both on the same residual)
    st = sim.cohort.states
    r = ds.y.astype(np.float64) - ds.y.mean()
    scr = screen_all(prepare_triples(st, r, None, dtype=torch.float64), "genotype", 100, 8)
    np.testing.assert_allclose(exact_fast_f(st, r, scr["idx"]), scr["F"], rtol=1e-9)


def test_scan_order3_candidates_contrast__every_projected_kind_in_top10(cohort120, tmp_path):
    sim_dir, truth = cohort120
    table = tmp_path / "scan3.tsv"
    _ok(["scan", *_inputs(sim_dir), "--order", 3, "--test", "genotype", "--top", 10,
         "--candidates", "contrast", "--clump", "--out", table, "--no-progress"])  # fmt: skip
    ranked = _ranked(table)
    for kind, loci in truth.items():
        assert loci in ranked, kind


@pytest.mark.slow
def test_fit_ha_beyond_exhaustive_bound__every_projected_kind_in_top10(
    cohort120, tmp_path, monkeypatch
):
    """Exhaustive bound forced below L and ``triple_search: contrast``: the contrast route."""
    monkeypatch.setattr(candidates, "EXHAUSTIVE_LOCI", 50)
    sim_dir, truth = cohort120
    out, table = tmp_path / "run", tmp_path / "triples.tsv"
    cfg = tmp_path / "contrast.yaml"
    cfg.write_text("model:\n  sparse:\n    triple_search: contrast\n")
    _ok(["fit", *_inputs(sim_dir), "--model", "ha", "--seed", 0, "--no-progress",
         "--config", cfg, "--out", out])  # fmt: skip
    _ok(["export", out, "--order", 3, "--top", 10, "--out", table])
    ranked = _ranked(table)
    for kind, loci in truth.items():
        assert loci in ranked, kind

"""``fit: auto`` (``genoattn/system/choose.py``).

Oracles: on a genotype cohort auto is exactly the sparse SA_lin route (same metrics, same saved
config); on a saturating sequence trait it picks the candidate with the lowest recorded validation
loss (the link candidate, which also has the best held-out R^2 there), records every candidate in
metrics.json, and the run reloads to the same predictions; an sgd winner reloads too; the CLI's
default is auto and its closing line lists the candidates.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from test_sparse_link import saturating_library

from genoattn.cli.app import run as cli
from genoattn.config import FitConfig
from genoattn.data.align import align
from genoattn.simulate import SimConfig, simulate
from genoattn.system.choose import CANDIDATES, candidate_names
from genoattn.system.fit import fit
from genoattn.system.metrics import metrics
from genoattn.system.routes import predict_rows
from genoattn.system.rundir import load_run

SPARSE = {"n_lambda": 8, "max_candidates": 40}


def _quiet(_msg: str) -> None:
    pass


def _cfg(**model) -> FitConfig:
    return FitConfig(
        model={"sparse": SPARSE, **model},
        train={"seed": 0, "progress": False, "accelerator": "cpu", "max_epochs": 30},
    )


def test_candidate_names__the_documented_rule():
    assert candidate_names("genotype", False) == ["sparse_sa"]
    assert candidate_names("genotype", True) == ["sparse_sa"]
    assert candidate_names("sequence", False) == list(CANDIDATES)
    assert "sparse_sa_link" not in candidate_names("sequence", True)
    assert candidate_names("genotype", False, ("additive",)) == ["additive"]


def test_auto__genotype_cohort_is_the_sparse_route(tmp_path):
    sim = simulate(SimConfig(n_samples=600, n_loci=60, seed=3))
    ds = align(sim.cohort, sim.trait, "g", "p")[0]
    auto = fit(ds, _cfg(), tmp_path / "auto", baseline=False, log=_quiet)
    sparse = fit(ds, _cfg(kind="sa", fit="sparse"), tmp_path / "sp", baseline=False, log=_quiet)
    assert auto["model"] == "sa" and auto["fit"] == "sparse"
    for split in ("train", "val", "test"):
        assert auto[split]["r2"] == pytest.approx(sparse[split]["r2"], abs=1e-9)
    saved = json.loads((tmp_path / "auto" / "metrics.json").read_text())
    assert saved["auto"]["chosen"] == "sparse_sa"
    assert set(saved["auto"]["candidates"]) == {"sparse_sa"}
    assert load_run(tmp_path / "auto").cfg.model.fit == "sparse"


@pytest.fixture(scope="module")
def seq_auto(tmp_path_factory):
    ds = saturating_library()
    out = tmp_path_factory.mktemp("auto") / "run"
    cfg = _cfg(fit="auto", candidates=["additive", "sparse_sa", "sparse_sa_link"])
    return ds, out, fit(ds, cfg, out, baseline=False, log=_quiet)


def test_auto__picks_the_lowest_validation_loss_and_records_every_candidate(seq_auto):
    _, out, result = seq_auto
    saved = json.loads((out / "metrics.json").read_text())["auto"]
    cands = saved["candidates"]
    assert set(cands) == {"additive", "sparse_sa", "sparse_sa_link"}
    assert saved["chosen"] == min(cands, key=lambda c: cands[c]["val_loss"])
    assert saved["chosen"] == "sparse_sa_link"
    best_test = max(c["test"]["r2"] for c in cands.values())
    assert cands["sparse_sa_link"]["test"]["r2"] == best_test
    assert result["test"]["r2"] == pytest.approx(best_test, abs=1e-9)
    assert all(c["seconds"] > 0 for c in cands.values())


def test_auto__winner_reloads_with_its_config(seq_auto):
    ds, out, result = seq_auto
    run = load_run(out)
    assert run.cfg.model.fit == "sparse" and run.cfg.model.global_epistasis == 4
    rows = run.split["test"]
    got = metrics(ds.y[rows], predict_rows(run.predictor, ds, rows), False)
    assert got["r2"] == pytest.approx(result["test"]["r2"], abs=1e-6)


def test_auto__sgd_winner_reloads(tmp_path):
    ds = saturating_library(n=600)
    cfg = _cfg(fit="auto", candidates=["sgd_sa_ge"], rank=2)
    result = fit(ds, cfg, tmp_path / "r", baseline=False, log=_quiet)
    run = load_run(tmp_path / "r")
    assert run.cfg.model.fit == "sgd" and run.cfg.model.kind == "sa"
    assert run.predictor.ge_a.numel() == 4
    assert not (tmp_path / "r" / "candidates").exists()
    rows = run.split["val"]
    got = metrics(ds.y[rows], predict_rows(run.predictor, ds, rows), False)
    assert got["r2"] == pytest.approx(result["val"]["r2"], abs=1e-6)
    assert np.isfinite(result["auto"]["candidates"]["sgd_sa_ge"]["val_loss"])


def test_cli__fit_default_is_auto_and_says_so(tmp_path, capsys):
    sim = tmp_path / "sim"
    assert cli(["simulate", "--out", str(sim), "--samples", "300", "--loci", "40"]) == 0
    (tmp_path / "f.yaml").write_text("model:\n  sparse:\n    n_lambda: 6\n")
    argv = ["fit", "--vcf", sim / "cohort.vcf.gz", "--pheno", sim / "pheno.tsv", "--out"]
    argv += [tmp_path / "run", "--config", tmp_path / "f.yaml", "--no-progress"]
    capsys.readouterr()
    assert cli([str(a) for a in argv]) == 0
    out = capsys.readouterr().out
    assert "auto (validation loss): sparse_sa" in out
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["fit"] == "sparse"


def test_pair_cap__memory_budget_of_the_sparse_pair_design():
    from genoattn.system.choose import pair_cap
    from genoattn.system.routes import FitInputs
    from genoattn.system.split import make_split

    ds = saturating_library(n=1000)
    cfg = _cfg()
    prep = FitInputs(ds, make_split(ds.cohort.n_samples, cfg.train))
    rows = len(prep.split["train"]) + len(prep.split["val"])
    d, l = 3, 10  # four residues per column: three contrasts
    assert pair_cap(prep, cfg.model, budget=4 * rows * (l * d + 5 * d * d)) == 5
    assert pair_cap(prep, cfg.model, budget=4 * rows * (l * d)) == 0


def test_sgd_budget__seeded_subsample_and_capped_epochs(monkeypatch):
    import genoattn.system.choose as choose
    from genoattn.system.routes import FitInputs
    from genoattn.system.split import make_split

    ds = saturating_library(n=1000)
    cfg = _cfg()
    prep = FitInputs(ds, make_split(ds.cohort.n_samples, cfg.train))
    monkeypatch.setattr(choose, "SGD_ROWS", 100)
    monkeypatch.setattr(choose, "SGD_SAMPLES", 800)
    lines: list[str] = []
    sub, train = choose.sgd_budget(prep, cfg.train, lines.append)
    rows = sub.split["train"]
    assert len(rows) == 100 and np.all(np.diff(rows) > 0)
    assert set(rows.tolist()) <= set(prep.split["train"].tolist())
    np.testing.assert_array_equal(sub.split["val"], prep.split["val"])
    np.testing.assert_array_equal(sub.y, prep.y)  # the whole training set's standardisation
    assert (train.max_epochs, train.patience) == (8, 3) and len(lines) == 1
    again, _ = choose.sgd_budget(prep, cfg.train, lines.append)
    np.testing.assert_array_equal(again.split["train"], rows)  # seeded
    assert prep.split["train"].size > 100  # the caller's split is untouched
    # a small training set is used whole, and the epochs are never raised
    monkeypatch.setattr(choose, "SGD_ROWS", 10**6)
    monkeypatch.setattr(choose, "SGD_SAMPLES", 10**9)
    whole, train = choose.sgd_budget(prep, cfg.train, lines.append)
    assert whole is prep and train.max_epochs == cfg.train.max_epochs


def test_sgd_budget__large_library_seen_whole_for_sgd_epochs(monkeypatch):
    """Above SGD_SAMPLES / SGD_EPOCHS rows (and below SGD_ROWS) every training row is used,
    for SGD_EPOCHS epochs; below it the SGD_SAMPLES budget applies."""
    import genoattn.system.choose as choose
    from genoattn.system.routes import FitInputs
    from genoattn.system.split import make_split

    ds = saturating_library(n=1000)
    cfg = _cfg()
    prep = FitInputs(ds, make_split(ds.cohort.n_samples, cfg.train))
    n_train = prep.split["train"].size
    monkeypatch.setattr(choose, "SGD_ROWS", 10**6)
    monkeypatch.setattr(choose, "SGD_SAMPLES", 2 * n_train)
    monkeypatch.setattr(choose, "SGD_EPOCHS", 3)
    whole, train = choose.sgd_budget(prep, cfg.train, lambda _: None)
    assert whole is prep and train.max_epochs == 3 == min(cfg.train.max_epochs, 3)
    monkeypatch.setattr(choose, "SGD_SAMPLES", 5 * n_train)
    _, train = choose.sgd_budget(prep, cfg.train, lambda _: None)
    assert train.max_epochs == min(cfg.train.max_epochs, 5)


def test_auto__deferred_sparse_winner_is_the_plain_sparse_route_and_shares_round_0(tmp_path):
    """sparse_sa, fitted once on training samples, is the link's round 0; as the winner it is
    refit on training + validation samples and equals the plain sparse route."""
    sim = simulate(SimConfig(n_samples=600, n_loci=60, seed=3))
    ds = align(sim.cohort, sim.trait, "g", "p")[0]
    logs: list[str] = []
    cfg = _cfg(fit="auto", candidates=["sparse_sa", "sparse_sa_link"])
    auto = fit(ds, cfg, tmp_path / "auto", baseline=False, log=logs.append)
    sparse = fit(ds, _cfg(kind="sa", fit="sparse"), tmp_path / "sp", baseline=False, log=_quiet)
    saved = json.loads((tmp_path / "auto" / "metrics.json").read_text())["auto"]
    assert saved["chosen"] == "sparse_sa"  # a linear trait: the link does not help
    for split in ("train", "val", "test"):
        assert auto[split]["r2"] == pytest.approx(sparse[split]["r2"], abs=1e-9)
    assert saved["candidates"]["sparse_sa"]["test"]["r2"] == pytest.approx(
        sparse["test"]["r2"], abs=1e-9
    )
    # sparse paths: sparse_sa and the link's rounds after round 0; the winner's refit on
    # training + validation samples reuses sparse_sa's choices and solves no path
    rounds = sum(s.startswith("sparse link: round") and "train loss" in s for s in logs)
    assert sum(s.startswith("main effects:") for s in logs) == 1 + (rounds - 1)
    assert sum(s.startswith("screening:") for s in logs) == 1 + (rounds - 1)
    assert "auto: refit sparse_sa on training + validation samples" in logs
    assert load_run(tmp_path / "auto").cfg.model.global_epistasis == 0

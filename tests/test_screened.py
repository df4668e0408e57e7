"""Screened rows of a sparse fit's export (genoattn/interpret/screened.py).

Oracles: the planted truth (pairs the model could not keep are listed by the screen), a naive
numpy score of the pair's interaction contrasts against the residual of the run's predictions
(and, for a kept pair, of a copy of the model without that pair), and the test samples' trait
changed at will (the screen never reads it).
"""

from __future__ import annotations

import copy
import dataclasses

import numpy as np
import polars as pl
import pytest
import torch

from genoattn.bench.cohort import recall_at
from genoattn.config import ExportConfig, FitConfig, from_dict
from genoattn.contract import states_to_tokens, token_offsets
from genoattn.interpret.clump import ld_r2
from genoattn.interpret.columns import export_columns
from genoattn.interpret.export import export, split_rows
from genoattn.interpret.outputs import heatmap_panels
from genoattn.simulate import SimConfig, simulate
from genoattn.sparse.contrasts import fit_contrasts
from genoattn.system.fit import fit
from genoattn.system.predictor import predict_batched
from genoattn.system.rundir import load_run

QUIET = lambda s: None  # noqa: E731


@pytest.fixture(scope="module")
def cohort(tmp_path_factory):
    """A sparse fit allowed one candidate pair (so it keeps at most one of three planted)."""
    sim = simulate(SimConfig(n_samples=1500, n_loci=150, pairs=["product", "dominance", "pure"],
                             h2_pair=0.06, n_additive=5, h2_additive=0.1, seed=3))  # fmt: skip
    ds = sim.dataset()
    cfg = {"model": {"sparse": {"max_candidates": 1}}, "train": {"seed": 0, "progress": False}}
    work = tmp_path_factory.mktemp("screened") / "run"
    fit(ds, from_dict(FitConfig, cfg), work, overwrite=True, baseline=False, log=QUIET)
    return sim, ds, load_run(work)


def _naive_score(run, ds, rows, a, b, resid):
    """Per-df score (1/df) sum_uv (w_uv^T r)^2 / ||w_uv||^2 of the pair (a, b), in numpy."""
    st = np.asarray(ds.cohort.states)[rows]
    ctr = fit_contrasts(st, run.loci["n_states"].to_numpy(), run.cfg.model.sparse.min_state_count)
    za, zb = ctr.locus[a][st[:, a] + 1], ctr.locus[b][st[:, b] + 1]  # (n, d)
    total, df = 0.0, 0
    for u in range(za.shape[1]):
        for v in range(zb.shape[1]):
            w = za[:, u].astype(np.float64) * zb[:, v]
            if w @ w > 1e-12:
                total += (w @ resid) ** 2 / (w @ w)
    df = int(ctr.n_active[a] * ctr.n_active[b])
    return total / df


def _residual(pred, ds, rows, n_states):
    st = np.asarray(ds.cohort.states)[rows]
    off = token_offsets(n_states)
    cov = torch.as_tensor(ds.covariates[rows], dtype=torch.float32)
    r = ds.y[rows].astype(np.float64) - predict_batched(
        pred, lambda sl: states_to_tokens(st[sl], off), cov
    )
    return r - r.mean()


def test_screened__lists_planted_pairs_the_model_dropped(cohort):
    sim, ds, run = cohort
    planted = sim.truth.filter(pl.col("order") == 2).select("locus_a", "locus_b").to_numpy()
    r2 = ld_r2(np.asarray(ds.cohort.states))
    only = export(run, ds, ExportConfig(top=10, screened=False), log=QUIET)
    assert len(only.pairs) <= 1 and "in_model" not in only.table.columns
    assert recall_at(only.pairs, planted, r2) <= 1 / 3
    ex = export(run, ds, ExportConfig(top=10), log=QUIET)
    t = export_columns(ex.table, ex.test, False)
    assert recall_at(ex.pairs, planted, r2, k=3) == 1.0  # the three planted pairs lead
    n_model = int(t["IN_MODEL"].sum())
    assert n_model == len(only.pairs) and t["IN_MODEL"][:n_model].all()  # model's rows first
    rest = t["SCREEN"].to_numpy()[n_model:]
    assert (np.diff(rest) <= 1e-12).all()  # then by the screen, best first
    assert (t["SCORE"].to_numpy()[n_model:] == 0).all()  # no effect in the model
    assert t["P"].null_count() == 0  # every row keeps its held-out test
    # figures draw effect tables of the model's rows only (screened rows have none)
    assert len(heatmap_panels(ex, t, run, ds)) == min(9, n_model)


def test_screened__statistic_is_the_naive_score_on_the_fit_samples_residual(cohort):
    _, ds, run = cohort
    ex = export(run, ds, ExportConfig(top=10), log=QUIET)
    learn = np.sort(np.r_[split_rows(run, ds, "train"), split_rows(run, ds, "val")])
    n_states = run.loci["n_states"].to_numpy()
    resid = _residual(run.predictor, ds, learn, n_states)
    var = float(resid @ resid) / len(resid)
    t = ex.table
    for i in range(len(t)):
        a, b = ex.pairs[i]
        if t["in_model"][i]:  # conditional on the rest of the model: the pair's table removed
            pred = copy.deepcopy(run.predictor)
            k = [tuple(sorted(p)) for p in pred.genetic.pairs.tolist()].index((a, b))
            pred.genetic.tables[k].zero_()
            r = _residual(pred, ds, learn, n_states)
        else:
            r = resid
        want = _naive_score(run, ds, learn, a, b, r) / var
        assert t["screen"][i] == pytest.approx(want, rel=1e-4), (i, a, b)  # float32 screen


def test_screened__never_reads_the_test_samples(cohort):
    _, ds, run = cohort
    ex = export(run, ds, ExportConfig(top=10, condition="none"), log=QUIET)
    y = ds.y.copy()
    te = split_rows(run, ds, "test")
    y[te] = np.random.default_rng(0).normal(size=len(te)).astype(y.dtype) * 10
    ex2 = export(run, dataclasses.replace(ds, y=y), ExportConfig(top=10, condition="none"),
                 log=QUIET)  # fmt: skip
    np.testing.assert_array_equal(ex.pairs, ex2.pairs)
    np.testing.assert_array_equal(ex.table["screen"], ex2.table["screen"])
    assert not np.allclose(ex.table["heldout_p"], ex2.table["heldout_p"])  # the test did change


def test_screened__above_the_budget_the_model_rows_only_and_a_log_line(cohort, monkeypatch):
    """A cohort whose all-pairs screen exceeds the export's budget gets the model-only table
    (the same rows as --model-only) and one line saying why."""
    import genoattn.interpret.screened as screened

    sim, ds, run = cohort
    from genoattn.interpret.export import split_rows

    n_learn = len(split_rows(run, ds, "train")) + len(split_rows(run, ds, "val"))
    l = ds.cohort.n_loci
    assert screened.affordable(n_learn, l)  # this cohort: within the default budget
    monkeypatch.setattr(screened, "SCREEN_BUDGET", n_learn * l * (l - 1) / 2 - 1)
    assert not screened.affordable(n_learn, l)
    lines: list[str] = []
    ex = export(run, ds, ExportConfig(top=10), log=lines.append)
    only = export(run, ds, ExportConfig(top=10, screened=False), log=QUIET)
    assert ex.pairs.tolist() == only.pairs.tolist() and "in_model" not in ex.table.columns
    assert sum("the model's pairs only" in s and "genoattn scan" in s for s in lines) == 1

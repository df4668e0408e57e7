"""``export_pairs`` on a sparse SA_lin run of a simulated cohort.

Oracles: the simulator's truth frame (order-2 rows), the run's own split (held-out tests must use
exactly its test rows), ``confirm_pairs`` called directly on those rows, and the functional-ANOVA
identities (pure tables are double-centred; score = sum p_a p_b pure^2).
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from genoattn.config import ExportConfig, FitConfig
from genoattn.data.align import align
from genoattn.interpret.conditioning import condition_sets
from genoattn.interpret.confirm import confirm_pairs
from genoattn.interpret.effects import state_frequencies
from genoattn.interpret.export import export as export_pairs
from genoattn.simulate import SimConfig, simulate
from genoattn.system.fit import fit
from genoattn.system.rundir import load_run


def _quiet(_msg: str) -> None:
    pass


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    sim = simulate(SimConfig(n_samples=1000, n_loci=120, seed=1))
    ds = align(sim.cohort, sim.trait, "geno", "pheno")[0]
    cfg = FitConfig(
        model={"kind": "sa", "fit": "sparse", "sparse": {"n_lambda": 8, "max_candidates": 40}},
        train={"seed": 0, "progress": False, "accelerator": "cpu"},
    )
    out = tmp_path_factory.mktemp("export") / "run"
    fit(ds, cfg, out, baseline=False, log=_quiet)
    run = load_run(out)
    return sim, ds, run, export_pairs(run, ds, ExportConfig(top=10), log=_quiet)


def test_export__planted_pairs_in_clumped_top10(exported):
    sim, ds, _, exp = exported
    assert 3 <= exp.table.height <= 10
    got = {tuple(sorted(p)) for p in exp.pairs.tolist()}
    ids = {tuple(sorted(x)) for x in zip(exp.table["id_a"], exp.table["id_b"], strict=True)}
    for row in sim.truth.filter(order=2).iter_rows(named=True):
        assert tuple(sorted((row["locus_a"], row["locus_b"]))) in got, row["term"]
        assert tuple(sorted((row["id_a"], row["id_b"]))) in ids, row["term"]
    # the model's pairs first, by the variance of their interaction; then the screened rows
    # (interpret/screened.py), which have no effect in the model
    model = exp.table["in_model"].to_numpy()
    n_model = int(model.sum())
    assert n_model >= 3 and model[:n_model].all()
    scores = exp.table["score"].to_numpy()
    assert np.all(np.diff(scores[:n_model]) <= 0) and np.all(scores[:n_model] > 0)
    assert np.all(scores[n_model:] == 0)
    np.testing.assert_array_equal(exp.table["rank"].to_numpy(), np.arange(1, exp.table.height + 1))
    # the locus columns describe the pair's loci
    loci = ds.cohort.loci
    np.testing.assert_array_equal(
        exp.table["pos_a"].to_numpy(), loci["pos"].to_numpy()[exp.pairs[:, 0]]
    )


def test_export__allele_table_has_one_row_per_state_combination(exported):
    _, ds, run, exp = exported
    n_states = ds.cohort.n_states
    al = exp.alleles
    assert al.height == int(sum(n_states[a] * n_states[b] for a, b in exp.pairs))
    assert al.select("rank", "state_a", "state_b").unique().height == al.height
    freq = state_frequencies(ds.cohort.states[run.split["train"]], n_states)
    for r, (a, b) in enumerate(exp.pairs.tolist(), start=1):
        rows = al.filter(rank=r)
        assert set(rows["id_a"]) == {ds.cohort.loci["id"][a]}
        assert set(rows["id_b"]) == {ds.cohort.loci["id"][b]}
        t = np.zeros((n_states[a], n_states[b]))
        la, lb = ds.cohort.loci["states"][a].to_list(), ds.cohort.loci["states"][b].to_list()
        for sa, sb, v in rows.select("state_a", "state_b", "interaction_effect").iter_rows():
            t[la.index(sa), lb.index(sb)] = v
        np.testing.assert_allclose(t, exp.tables[r - 1][: n_states[a], : n_states[b]], atol=1e-6)
        # pure interaction: no main effect under the training frequencies
        pa, pb = freq[a, : n_states[a]], freq[b, : n_states[b]]
        np.testing.assert_allclose(pa @ t, 0.0, atol=1e-5)
        np.testing.assert_allclose(t @ pb, 0.0, atol=1e-5)
        # the ranking score is the variance of that pure part (trait units squared)
        np.testing.assert_allclose(
            (pa[:, None] * pb[None, :] * t**2).sum(), exp.table["score"][r - 1], rtol=1e-4
        )


def test_export__heldout_tests_use_test_rows_only(exported):
    _, ds, run, exp = exported
    test_rows = run.split["test"]
    assert len(test_rows) == 150
    np.testing.assert_array_equal(exp.table["heldout_n"].to_numpy(), len(test_rows))
    # rows within --clump-kb of each other are conditioned on their local loci (the default cis)
    cond = condition_sets("cis", ds.cohort, exp.pairs, 250.0, run.predictor.genetic)
    direct = confirm_pairs(ds, exp.pairs, rows=test_rows, test="genotype", condition=cond)
    np.testing.assert_allclose(exp.table["heldout_p"].to_numpy(), direct["p"].to_numpy(), rtol=1e-8)
    everyone = confirm_pairs(ds, exp.pairs, test="genotype")
    assert not np.allclose(everyone["p"].to_numpy(), direct["p"].to_numpy())
    # the planted pairs are confirmed on samples the fit never saw
    planted = {
        tuple(sorted((r["locus_a"], r["locus_b"])))
        for r in exported[0].truth.filter(order=2).iter_rows(named=True)
    }
    p = np.array(
        [
            pv
            for pair, pv in zip(exp.pairs.tolist(), exp.table["heldout_p"], strict=True)
            if tuple(sorted(pair)) in planted
        ]
    )
    assert len(p) == 3 and np.all(p < 0.05) and (p < 1e-3).sum() >= 2, p


_NO_WARNINGS = """
import sys, warnings
import polars as pl
warnings.simplefilter("error")
# polars returns a read-only zero-copy view from DataFrame.to_numpy() whenever the columns happen
# to share one buffer (it depends on memory layout); force that case so the check is deterministic
_to_numpy = pl.DataFrame.to_numpy
def _read_only(self, *args, **kwargs):
    out = _to_numpy(self, *args, **kwargs)
    out.setflags(write=False)
    return out
pl.DataFrame.to_numpy = _read_only
from genoattn.config import ExportConfig
from genoattn.data.align import align
from genoattn.interpret.export import export as export_pairs
from genoattn.simulate import SimConfig, simulate
from genoattn.system.rundir import load_run
sim = simulate(SimConfig(n_samples=1000, n_loci=120, seed=1))
ds = align(sim.cohort, sim.trait, "geno", "pheno")[0]
try:
    export_pairs(load_run(sys.argv[1]), ds, ExportConfig(top=10), log=lambda s: None)
except Warning as w:
    print(f"{type(w).__name__}: {w}", file=sys.stderr)
    sys.exit(3)
"""


def test_export__emits_no_warnings_when_polars_returns_read_only_arrays(exported):
    # in a fresh interpreter: torch emits this warning only once per process
    run = exported[2]
    proc = subprocess.run(
        [sys.executable, "-c", _NO_WARNINGS, str(run.path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if proc.returncode not in (0, 3):  # a crash is a failure, not the expected warning
        pytest.fail(proc.stderr[-2000:])
    assert proc.returncode == 0, proc.stderr.strip()

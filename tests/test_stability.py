"""The selection-frequency column: recorded by a cross-validated sparse fit in selection.tsv and
shown as SEL_FREQ beside the held-out P of ``export`` (genoattn/interpret/stability.py).

Oracle: the frequencies the fit returned (SparseFit.pair_sel_freq via the run's trace) and the
planted pairs, which every fold of a cohort with strong pairs selects.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from genoattn.config import ExportConfig, FitConfig, from_dict
from genoattn.interpret.columns import export_columns
from genoattn.interpret.export import export as export_pairs
from genoattn.interpret.stability import selection_frequency
from genoattn.simulate import SimConfig, simulate
from genoattn.system.fit import fit
from genoattn.system.rundir import load_run

QUIET = lambda s: None  # noqa: E731


def _fit(tmp_path, selection: str):
    sim = simulate(SimConfig(n_samples=1000, n_loci=120, seed=1))
    ds = sim.dataset()
    sparse = {"selection": selection, "cv_folds": 3, "n_lambda": 8, "max_candidates": 40}
    cfg = from_dict(FitConfig, {"model": {"kind": "sa", "fit": "sparse", "sparse": sparse},
                                "train": {"seed": 0, "progress": False}})  # fmt: skip
    fit(ds, cfg, tmp_path / selection, overwrite=True, baseline=False, log=QUIET)
    return sim, ds, load_run(tmp_path / selection)


def test_export__sel_freq_beside_p_for_cv_runs(tmp_path):
    sim, ds, run = _fit(tmp_path, "cv")
    sel = pl.read_csv(run.path / "selection.tsv", separator="\t")
    stab = sel.filter(pl.col("stage") == "stability")
    assert stab.height == len(run.predictor.genetic.pairs)
    exp = export_pairs(run, ds, ExportConfig(top=10), log=QUIET)
    table = export_columns(exp.table, exp.test, binary=False)
    cols = table.columns
    assert cols.index("SEL_FREQ") == cols.index("P_BONF") + 1
    # the model's pairs have a record; the screened rows after them (not kept) have none
    n_model = int(table["IN_MODEL"].sum())
    assert n_model >= 1 and table["IN_MODEL"][:n_model].all()
    assert table["SEL_FREQ"][n_model:].null_count() == table.height - n_model
    freq = table["SEL_FREQ"].to_numpy()[:n_model]
    assert np.all((freq >= 0) & (freq <= 1))
    # the record, pair by pair, is what the fit wrote
    want = {t: f for t, f in zip(stab["tuple"].to_list(), stab["sel_freq"].to_list(), strict=True)}
    for (a, b), f in zip(exp.pairs[:n_model].tolist(), freq, strict=True):
        assert f == want[f"{min(a, b)}|{max(a, b)}"]
    planted = sim.truth.filter(order=2).select("locus_a", "locus_b").to_numpy()
    got = selection_frequency(run.path, planted).to_numpy()
    assert np.all(got >= 2 / 3)  # strong planted pairs: kept, and by (nearly) every fold


def test_selection_frequency__missing_without_a_record(tmp_path):
    (tmp_path / "selection.tsv").write_text("stage\tlam\tval_loss\nmain\t0.1\t0.4\n")
    s = selection_frequency(tmp_path, np.array([[1, 2], [3, 4]]))
    assert s.dtype == pl.Float64 and s.null_count() == 2
    assert selection_frequency(tmp_path / "none", np.zeros((0, 2), int)).len() == 0

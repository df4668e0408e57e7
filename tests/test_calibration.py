"""Held-out p-values are calibrated under the null: cohorts without any genetic effect, several
replicates, every exported p pooled -> KS test against U(0, 1), and the family-wise error of the
Bonferroni rule. A negative control shows that the check has the power to fail: pairs selected
as the best of an all-pairs scan of the fitted (train + validation) rows and tested on those same
rows give p-values far from U(0, 1) (the winner's curse the held-out design avoids).

The >= 100-replicate version with both trait types and both nulls is
benchmarks/bench_calibration.py (figures in docs/readme/trust.md)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from genoattn.config import ExportConfig, FitConfig, from_dict
from genoattn.interpret.confirm import confirm_pairs
from genoattn.interpret.export import export as export_pairs
from genoattn.simulate import SimConfig, simulate
from genoattn.system.fit import fit
from genoattn.system.rundir import load_run

REPLICATES = 5
TOP = 10


def _null_tables(tmp_path, binary: bool, test: str) -> tuple[list, list]:
    """Per replicate: held-out p of the exported pairs; p of the top-k scan pairs in-sample."""
    held, selected = [], []
    for seed in range(REPLICATES):
        sim = SimConfig(
            n_samples=400, n_loci=30, pairs=[], n_additive=0, h2_additive=0.0, binary=binary,
            prevalence=0.3, seed=500 + seed,
        )  # fmt: skip
        ds = simulate(sim).dataset()
        cfg = from_dict(
            FitConfig,
            {
                "model": {"kind": "sa", "fit": "sgd"},  # dense tables: a full top-k every time
                "train": {"progress": False, "seed": seed, "test_fraction": 0.3, "max_epochs": 15},
            },
        )
        run_dir = tmp_path / f"r{int(binary)}{test}{seed}"
        fit(ds, cfg, run_dir, baseline=False, log=lambda s: None)
        run = load_run(run_dir)
        ex = export_pairs(run, ds, ExportConfig(top=TOP, test=test), log=lambda s: None)
        assert len(ex.pairs) == TOP
        held.append(ex.table["heldout_p"].to_numpy())
        fitted = np.concatenate([run.split["train"], run.split["val"]])
        a, b = np.triu_indices(ds.cohort.n_loci, 1)
        scan = confirm_pairs(ds, np.stack([a, b], 1), rows=fitted, test=test)["p"].to_numpy()
        selected.append(np.sort(scan[np.isfinite(scan)])[:TOP])
    return held, selected


@pytest.mark.slow
@pytest.mark.parametrize("binary, test", [(False, "genotype"), (True, "product")])
def test_heldout_p__uniform_under_the_null_and_bonferroni_controls_fwer(tmp_path, binary, test):
    held, selected = _null_tables(tmp_path, binary, test)
    pooled = np.concatenate(held)
    assert np.isfinite(pooled).all()
    assert stats.kstest(pooled, "uniform").pvalue > 0.01
    assert (pooled < 0.05).mean() < 0.15
    rejections = sum(bool((t < 0.05 / len(t)).any()) for t in held)
    assert rejections <= 1  # expected 0.05 * 5 = 0.25 replicates
    # negative control: selected and tested on the same rows, p-values are far from U(0, 1)
    assert stats.kstest(np.concatenate(selected), "uniform").pvalue < 1e-4

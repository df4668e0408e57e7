"""Early stop of the lambda path (genoattn/sparse/path.py: past_minimum, run_path).

Oracles: hand-made validation curves for the rule, and the whole path (early_stop=False) of the
same problem: the stopped path must be its prefix, with the same minimum.
"""

from __future__ import annotations

import numpy as np
import torch

from genoattn.config import SparseFitConfig
from genoattn.simulate import SimConfig, simulate
from genoattn.sparse.contrasts import fit_contrasts
from genoattn.sparse.group_lasso import GroupLassoResult, lambda_max
from genoattn.sparse.operator import StatesOperator, all_groups
from genoattn.sparse.path import PathPoint, lambda_grid, past_minimum, run_path


def _points(losses: list[float], se: float = 0.01) -> list[PathPoint]:
    res = GroupLassoResult(torch.zeros(1), 0.0, 0, True)
    return [PathPoint(1.0, v, se, res) for v in losses]


def test_past_minimum__three_points_beyond_one_se_of_the_minimum():
    # minimum 0.50 (se 0.01): the limit is 0.51
    assert not past_minimum(_points([0.6, 0.5, 0.52, 0.53]))  # only two points above
    assert past_minimum(_points([0.6, 0.5, 0.52, 0.53, 0.54]))
    assert not past_minimum(_points([0.6, 0.5, 0.52, 0.505, 0.54]))  # one within the limit
    assert not past_minimum(_points([0.6, 0.5, 0.52, 0.53, 0.54], se=0.05))  # within 1 se
    assert not past_minimum(_points([0.9, 0.8, 0.7]))  # still falling, too short
    assert not past_minimum(_points([0.5, 0.6, 0.7, 0.8]), patience=0)  # disabled
    # a later, lower minimum resets the count
    assert not past_minimum(_points([0.5, 0.6, 0.7, 0.8, 0.4, 0.45]))


def test_run_path__early_stop_is_a_prefix_of_the_whole_path_with_its_minimum():
    sim = simulate(SimConfig(n_samples=400, n_loci=60, seed=3))
    c = sim.cohort
    tr, va = np.arange(80), np.arange(80, 400)  # few training samples: the path overfits
    con = fit_contrasts(c.states[tr], c.n_states)
    table = torch.as_tensor(con.locus, dtype=torch.float64)
    st = torch.as_tensor(np.asarray(c.states))
    y = torch.as_tensor(sim.trait.values, dtype=torch.float64)
    y = (y - y[tr].mean()) / y[tr].std()
    cov = torch.zeros(len(y), 0, dtype=torch.float64)
    op_tr = StatesOperator(st[tr], table, cov[tr], all_groups(0, c.n_loci))
    op_va = op_tr.rows(st[va], cov[va])
    w = torch.ones(c.n_loci, dtype=torch.float64)
    cfg = SparseFitConfig(n_lambda=20, lambda_min_ratio=1e-3, tol=1e-8, max_iter=5000)
    lams = lambda_grid(lambda_max(op_tr, y[tr], op_tr.blocks, w, "mse"), cfg)
    logs: list[str] = []
    args = (op_tr, op_va, y[tr], y[va], lambda lam: lam * w, lams, "mse", cfg)
    whole = run_path(*args, logs.append, "main", early_stop=False)
    early = run_path(*args, logs.append, "main")
    assert len(whole) == len(lams) and len(early) < len(lams)  # it did stop
    assert any("stopped after" in s for s in logs)
    for a, b in zip(early, whole[: len(early)], strict=True):
        assert a.lam == b.lam and abs(a.val_loss - b.val_loss) < 1e-12
    # it stopped at the first prefix past the minimum, and the minimum is the whole path's
    assert past_minimum(early) and not past_minimum(early[:-1])
    assert min(early, key=lambda p: p.val_loss).lam == min(whole, key=lambda p: p.val_loss).lam

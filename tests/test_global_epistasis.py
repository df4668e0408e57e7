"""The optional global-epistasis output nonlinearity: monotone, learned, saved and reloaded."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genoattn.config import FitConfig, from_dict
from genoattn.errors import GenoattnError
from genoattn.models.additive import Additive
from genoattn.simulate import SimConfig, simulate
from genoattn.system.fit import fit
from genoattn.system.metrics import r2_score
from genoattn.system.predictor import CohortPredictor
from genoattn.system.routes import predict_rows
from genoattn.system.rundir import load_run


class _Score(torch.nn.Module):
    """A 'genetic model' that returns its input score: g is then visible directly."""

    def forward(self, z):
        return z


def test_global_epistasis__is_increasing_for_any_parameters():
    torch.manual_seed(0)
    pred = CohortPredictor(_Score(), 0, False, global_epistasis=5)
    with torch.no_grad():
        for p in (pred.ge_a, pred.ge_b, pred.ge_c):
            p.copy_(torch.randn_like(p) * 3)
    z = torch.linspace(-6, 6, 2001)
    out = pred(z, torch.zeros(len(z), 0))
    assert bool((out.diff() > 0).all())


def test_global_epistasis__starts_near_identity():
    pred = CohortPredictor(_Score(), 0, False, global_epistasis=4)
    z = torch.linspace(-3, 3, 101)
    assert torch.allclose(pred(z, torch.zeros(len(z), 0)), z, atol=0.1)


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_global_epistasis__sgd_fit_learns_a_saturating_trait_and_reloads(tmp_path):
    sim = simulate(
        SimConfig(
            n_samples=800,
            n_loci=40,
            pairs=[],
            n_additive=8,
            h2_additive=0.6,
            covariates=False,
            seed=2,
        )
    )
    ds = sim.dataset()
    # saturating measurement of the additive liability
    y = np.tanh(2.5 * (sim.genetic_value - sim.genetic_value.mean()) / sim.genetic_value.std())
    ds = type(ds)(ds.cohort, y.astype(np.float32), ds.covariates, "sat", False, ())
    scores = {}
    for k in (0, 4):
        cfg = from_dict(
            FitConfig,
            {
                "model": {"kind": "additive", "fit": "sgd", "global_epistasis": k},
                "train": {
                    "progress": False,
                    "max_epochs": 60,
                    "lr": 0.02,
                    "weight_decay": 0.0,
                    "patience": 60,
                },
            },
        )
        res = fit(ds, cfg, tmp_path / f"run{k}", baseline=False, log=lambda s: None)
        scores[k] = res["test"]["r2"]
        run = load_run(tmp_path / f"run{k}")
        rows = run.split["test"]
        reloaded = r2_score(ds.y[rows], predict_rows(run.predictor, ds, rows))
        assert reloaded == pytest.approx(res["test"]["r2"], abs=1e-6)
        assert run.predictor.ge_a.numel() == k
        assert isinstance(run.predictor.genetic, Additive)
    assert scores[4] > scores[0] + 0.02


def test_global_epistasis__not_with_the_ridge_fit():
    with pytest.raises(GenoattnError, match="global_epistasis"):
        from_dict(FitConfig, {"model": {"kind": "rfa", "fit": "ridge", "global_epistasis": 3}})

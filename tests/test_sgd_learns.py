"""The sgd route learns on cohorts: SA_lin, HyperFeatureAttention and HyperAttention trained by
gradient descent beat the additive baseline on held-out samples of a planted cohort."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genoattn.config import FitConfig, from_dict
from genoattn.models.ha import HyperAttention
from genoattn.models.hfa import HyperFeatureAttention
from genoattn.models.sa import SALin
from genoattn.simulate import SimConfig, simulate
from genoattn.system.fit import fit


def planted():
    """1,500 x 30 with a product and a dominance pair (each 25% of the variance)."""
    cfg = SimConfig(
        n_samples=1500,
        n_loci=30,
        pairs=["product", "dominance"],
        h2_pair=0.25,
        n_additive=4,
        h2_additive=0.05,
        seed=1,
    )
    return simulate(cfg).dataset()


@pytest.mark.parametrize("kind", ["sa", "hfa", "ha"])
def test_sgd__beats_the_additive_baseline_on_test_samples(tmp_path, kind):
    ds = planted()
    cfg = from_dict(
        FitConfig,
        {
            "model": {"kind": kind, "fit": "sgd"},
            "train": {"progress": False, "accelerator": "cpu", "max_epochs": 30, "patience": 10},
        },
    )
    result = fit(ds, cfg, tmp_path / kind, log=lambda s: None)
    test, additive = result["test"]["r2"], result["additive"]["test"]["r2"]
    assert np.isfinite(test)
    assert test > additive + 0.05, (kind, test, additive)


@torch.no_grad()
def _naive_sq_norm(model) -> float:
    """||A||^2 from the dense invariant (the models' own interaction_matrix / an einsum)."""
    if isinstance(model, HyperAttention):
        q, (k1, k2), (v1, v2) = model.q_table, model.k_tables, model.v_tables
        t = torch.einsum("ar,br,cr,bp,cp,pd->abc", q, k1, k2, v1, v2, model.c)[1:, 1:, 1:]
        return float((t**2).sum())
    return float((model.interaction_matrix() ** 2).sum())


@pytest.mark.parametrize("which", ["sa_factorised", "sa_full", "hfa", "ha"])
def test_invariant_sq_norm__matches_the_dense_invariant(which):
    torch.manual_seed(0)
    if which.startswith("sa"):
        model = SALin(9, rank=3 if which == "sa_factorised" else None, init_scale=0.5)
        torch.nn.init.normal_(model.w)
    elif which == "hfa":
        # 3 loci x 3 labels: every (locus, label) token exists, so A covers the Kronecker domain
        tl = torch.tensor([-1, 0, 0, 0, 1, 1, 1, 2, 2, 2])
        ts = torch.tensor([-1, 0, 1, 2, 0, 1, 2, 0, 1, 2])
        model = HyperFeatureAttention(tl, ts, 3, 3, heads=2, rank=2, init_scale=0.7)
        with torch.no_grad():
            model.f_state.normal_()
            model.v_state.normal_()
    else:
        model = HyperAttention(7, order=3, rank=2, value_rank=3, init_scale=0.7)
    with torch.no_grad():
        got = float(model.invariant_sq_norm())
    assert got == pytest.approx(_naive_sq_norm(model), rel=1e-5)

"""Global epistasis for the sparse route (``genoattn/system/sparse_link.py``).

Oracles: a planted monotone link is recovered by ``fit_link`` and inverted exactly by
``linearise``; the CohortPredictor form of the link gives the same values as the fitted link;
on a saturating trait with a planted pair, the sparse fit with the link beats the plain sparse fit
on held-out samples, keeps the planted pair, and a reloaded run predicts the same values.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genoattn.config import FitConfig
from genoattn.contract import SEQUENCE, Cohort, Trait, make_loci
from genoattn.data.align import align
from genoattn.errors import GenoattnError
from genoattn.models.additive import Additive
from genoattn.system.fit import fit
from genoattn.system.predictor import CohortPredictor
from genoattn.system.routes import predict_rows
from genoattn.system.rundir import load_run
from genoattn.system.sparse_link import fit_link

F64 = torch.float64


def _quiet(_msg: str) -> None:
    pass


def saturating_library(n=2000, l=10, seed=0, binary=False):
    """DNA library: additive effects plus one planted pair (columns 2 and 5, 1-based), seen
    through a sigmoid measurement with noise."""
    rng = np.random.default_rng(seed)
    st = rng.integers(0, 4, size=(n, l)).astype(np.int8)
    labels = [list("ACGT")] * l
    loci = make_loci(
        ["dna"] * l, range(1, l + 1), [f"col{p}" for p in range(1, l + 1)], ["A"] * l,
        ["C,G,T"] * l, labels,
    )  # fmt: skip
    cohort = Cohort(st, loci, np.array([f"s{i}" for i in range(n)], dtype=object), SEQUENCE)
    w = rng.normal(size=(l, 4))
    lat = w[np.arange(l), st].sum(1) + 2.0 * ((st[:, 1] == 0) & (st[:, 4] == 2))
    lat = (lat - lat.mean()) / lat.std()
    y = 1 / (1 + np.exp(-2.5 * (lat - 0.5))) + 0.08 * rng.standard_normal(n)
    if binary:
        y = (y > 0.5).astype(float)
    trait = Trait(cohort.samples, y, "y", binary, np.zeros((n, 0)))
    return align(cohort, trait, "g", "p")[0]


def sgd_ha_run(path, n: int, l: int, max_epochs: int):
    """(dataset, loaded run) of fit auto restricted to sgd HyperAttention (rank 4, link units
    4) on a seeded saturating library of n sequences x l positions."""
    from genoattn.config import FitConfig
    from genoattn.system.fit import fit
    from genoattn.system.rundir import load_run

    ds = saturating_library(n=n, l=l, seed=2)
    cfg = FitConfig(
        model={"fit": "auto", "candidates": ["sgd_ha_ge"], "rank": 4, "value_rank": 4},
        train={"seed": 0, "progress": False, "accelerator": "cpu", "max_epochs": max_epochs},
    )
    fit(ds, cfg, path, baseline=False, log=lambda s: None)
    return ds, load_run(path)


def _cfg(**model) -> FitConfig:
    return FitConfig(
        model={"sparse": {"n_lambda": 8, "max_candidates": 40}, **model},
        train={"seed": 0, "progress": False, "accelerator": "cpu"},
    )


def test_fit_link__recovers_a_planted_sigmoid_and_inverts_it():
    g = torch.Generator().manual_seed(0)
    u = torch.randn(3000, generator=g, dtype=F64)
    cov = torch.randn(3000, 1, generator=g, dtype=F64)
    truth = 2 * torch.sigmoid(3 * (u - 0.3)) + 0.5 * cov[:, 0]
    y = truth + 0.05 * torch.randn(3000, generator=g, dtype=F64)
    link = fit_link(u, y, cov, 4)
    fitted = link(u, cov)
    assert float(((fitted - truth) ** 2).mean()) < 0.05**2 / 2  # noise variance is 0.0025
    assert abs(float(link.gamma[0]) - 0.5) < 0.02
    grid = torch.linspace(-2.5, 2.5, 201, dtype=F64)
    assert (torch.diff(link(grid, torch.zeros(201, 1, dtype=F64))) > 0).all()  # increasing
    # linearise is the inverse on the link's range
    back = link.linearise(fitted, cov)
    inside = (u > u.min() + 0.1) & (u < u.max() - 0.1)
    np.testing.assert_allclose(back[inside].numpy(), u[inside].numpy(), atol=1e-6)


def test_link__predictor_form_equals_the_fitted_link():
    g = torch.Generator().manual_seed(1)
    u = torch.randn(500, generator=g, dtype=F64) * 3 + 1
    y = torch.tanh(u) + 0.05 * torch.randn(500, generator=g, dtype=F64)
    link = fit_link(u, y, torch.zeros(500, 0, dtype=F64), 3)
    s, a, b, c, bias = link.predictor_form()
    # a one-locus additive model whose token t scores u_t: the predictor computes bias + g(s u)
    genetic = Additive(501)
    with torch.no_grad():
        genetic.w[1:] = (s * u).float()
    pred = CohortPredictor(genetic, 0, False, global_epistasis=3)
    with torch.no_grad():
        pred.ge_a.copy_(a.float())
        pred.ge_b.copy_(b.float())
        pred.ge_c.copy_(c.float())
        pred.bias.fill_(bias)
    tok = torch.arange(1, 501)[:, None]
    got = pred(tok, torch.zeros(500, 0)).detach().double()
    np.testing.assert_allclose(got.numpy(), link(u, torch.zeros(500, 0, dtype=F64)), atol=2e-4)


@pytest.fixture(scope="module")
def link_runs(tmp_path_factory):
    ds = saturating_library()
    base = tmp_path_factory.mktemp("link")
    plain = fit(ds, _cfg(kind="sa", fit="sparse"), base / "plain", baseline=False, log=_quiet)
    cfg = _cfg(kind="sa", fit="sparse", global_epistasis=4)
    linked = fit(ds, cfg, base / "link", baseline=False, log=_quiet)
    return ds, plain, linked, base


def test_sparse_link__beats_the_plain_sparse_fit_on_a_saturating_trait(link_runs):
    _, plain, linked, _ = link_runs
    assert linked["test"]["r2"] > plain["test"]["r2"] + 0.03, (linked["test"], plain["test"])


def test_sparse_link__keeps_the_planted_pair_and_reloads(link_runs):
    ds, _, linked, base = link_runs
    run = load_run(base / "link")
    assert run.cfg.model.fit == "sparse" and run.cfg.model.global_epistasis == 4
    assert run.predictor.ge_a.numel() == 4
    pairs = {tuple(sorted(p)) for p in run.predictor.genetic.pairs.tolist()}
    assert (1, 4) in pairs
    rows = run.split["test"]
    from genoattn.system.metrics import metrics

    got = metrics(ds.y[rows], predict_rows(run.predictor, ds, rows), False)
    assert got["r2"] == pytest.approx(linked["test"]["r2"], abs=1e-6)


def test_sparse_link__refuses_a_case_control_trait(tmp_path):
    ds = saturating_library(n=300, binary=True)
    with pytest.raises(GenoattnError, match="quantitative"):
        fit(ds, _cfg(kind="sa", fit="sparse", global_epistasis=2), tmp_path / "r", log=_quiet)


def test_sparse_link__export_ranks_the_planted_pair_on_the_latent_scale(link_runs):
    from genoattn.config import ExportConfig
    from genoattn.interpret.export import export as export_pairs

    ds, _, _, base = link_runs
    run = load_run(base / "link")
    exp = export_pairs(run, ds, ExportConfig(top=5), log=_quiet)
    assert tuple(sorted(exp.pairs[0].tolist())) == (1, 4)
    assert exp.alleles.filter(exp.alleles["rank"] == 1).height == 16


def test_joint_refinement__closer_to_the_planted_saturating_model_same_support():
    """The refined predictor (tables and link fitted jointly) predicts held-out samples of a
    planted sigmoid measurement better than the alternation's round, with the same pairs."""
    import copy

    from genoattn.system.routes import FitInputs
    from genoattn.system.sparse_link import _compose, link_rounds

    ds = saturating_library(n=3000, seed=1)
    perm = np.random.default_rng(0).permutation(3000)
    split = {"train": np.sort(perm[:1800]), "val": np.sort(perm[1800:2400])}
    split["test"] = np.sort(perm[2400:])
    prep = FitInputs(ds, split)
    logs: list[str] = []
    best = link_rounds(prep, _cfg(kind="sa", fit="sparse", global_epistasis=4).model, "cpu",
                       logs.append)  # fmt: skip
    assert best.joint is not None and any("joint refinement" in s for s in logs)
    alt = _compose(prep, copy.deepcopy(best.fitted.predictor), best.link)
    te = split["test"]

    def r2(pred) -> float:
        from genoattn.system.metrics import metrics

        return metrics(ds.y[te], predict_rows(pred, ds, te), False)["r2"]

    assert r2(best.joint) > r2(alt) + 0.02, (r2(best.joint), r2(alt))
    assert torch.equal(best.joint.genetic.pairs, best.fitted.predictor.genetic.pairs)
    assert float(best.joint.genetic.diag[0]) == 0.0

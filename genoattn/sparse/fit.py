"""Hierarchical group-lasso fit of the SA_lin interaction invariant A = C diag(w_V).

Axis legend: n samples, l loci, K states + 1, d contrasts per locus, k candidate tuples,
c covariates, g groups.

Why: with n << |S|^2 a gradient fit of SA_lin interpolates the training set and predicts nothing.
The invariant A (Ustaomeroglu & Qu 2025: C and w_V are identifiable only through C_mn w_n) is
instead fit as a convex, group-sparse problem in the contrast basis of ``contrasts.py``, one
function per stage, each returning a small record:

1. :func:`fit_main`: one group per locus (the diagonal of A), adaptive weights from each locus's
   marginal score (Zou 2006), lambda chosen on validation samples;
2. :func:`screen`: the group-lasso KKT score ||Z_ab^T r|| of every locus pair, as blocked matrix
   products of tile contrasts on the training residual (the "strong rule" of Tibshirani et al.
   2012); the top ``max_candidates`` pairs (and, for HyperAttention, triples) enter;
3. :func:`fit_joint`: main effects (penalty held) plus candidate tuple groups with adaptive weights
   from their screening scores, on a penalty path chosen on validation samples;
4. :func:`relax`: the selected groups, plus the main effects of every locus in a selected
   interaction (strong heredity), refit with the penalty shrunk by gamma (relaxed lasso,
   Meinshausen 2007), gamma chosen on validation samples; then, optionally, refit on training
   and validation samples together. ``selection: cv`` chooses every penalty by K-fold CV
   instead (``cv.py``). Every design is an operator over the int8 states (``operator.py``).
   Test samples are never touched here.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import numpy as np
import torch

from genoattn.config import SparseFitConfig
from genoattn.sparse.contrasts import Contrasts
from genoattn.sparse.gram import GramDesign
from genoattn.sparse.group_lasso import lambda_max
from genoattn.sparse.operator import Groups, all_groups
from genoattn.sparse.path import TraceRow, lambda_grid, run_path, solver_design
from genoattn.sparse.records import (
    Candidates,
    JointStage,
    MainStage,
    Problem,
    Relaxed,
    SparseStages,
    Weights,
)
from genoattn.sparse.relax import assemble, refit_both, refit_groups, relax
from genoattn.sparse.result import SparseFit
from genoattn.sparse.screen import StateContrasts, main_scores, screen_pairs, screen_triples
from genoattn.stats.candidates import candidate_triples, classes_from_states

# the records and stage 4 live in records.py / relax.py; cv.py builds on all of them from here
__all__ = [
    "Candidates", "JointStage", "MainStage", "Problem", "Relaxed", "SparseStages", "Weights",
    "assemble", "fit_sparse_sa", "refit_groups", "relax",
]  # fmt: skip

Log = Callable[[str], None]


def main_weights(pb: Problem, cfg: SparseFitConfig) -> Weights:
    """Adaptive main-effect weights from each locus's marginal score on the training trait."""
    src = StateContrasts(pb.states_tr, pb.table)
    score = main_scores(src, pb.y_tr - pb.y_tr.mean(), pb.n_active)
    scale = (score.max(initial=0.0) / np.maximum(score, 1e-12)) ** (cfg.adaptive / 2)
    w_main = np.sqrt(np.asarray(pb.n_active, dtype=np.float64)) * scale
    w_main = torch.as_tensor(w_main, dtype=pb.table.dtype, device=pb.table.device)
    return Weights(pb.cov_tr.shape[1], w_main, pb.table.new_zeros(0))


def fit_main(pb: Problem, cfg: SparseFitConfig, trace: list[TraceRow], log: Log) -> MainStage:
    """Stage 1: the main-effect path with adaptive weights from marginal scores."""
    l, c = pb.table.shape[0], pb.cov_tr.shape[1]
    weights = main_weights(pb, cfg)
    op_tr, op_va = pb.operators(all_groups(c, l))
    lmax = lambda_max(op_tr, pb.y_tr, op_tr.blocks, weights.penalty(1.0, 0.0), pb.loss)
    solver = solver_design(op_tr, pb.y_tr, pb.loss, cfg)
    path = run_path(
        solver,
        op_va,
        pb.y_tr,
        pb.y_va,
        lambda lam: weights.penalty(lam, 0.0),
        lambda_grid(lmax, cfg),
        pb.loss,
        cfg,
        log,
        "main",
    )
    trace.extend(TraceRow.of("main", p, op_tr.blocks) for p in path)
    best = min(path, key=lambda p: p.val_loss)  # the first of equal losses (largest lambda)
    log(f"main effects: lambda {best.lam:.4g}, validation loss {best.val_loss:.4f}")
    gram = solver if isinstance(solver, GramDesign) else None
    return MainStage(best.lam, best.val_loss, best.solution, weights, gram)


def residual(pb: Problem, main: MainStage) -> torch.Tensor:
    """shape (n_tr,): y - fitted value (mse) or y - fitted probability (logistic)."""
    op_tr, _ = pb.operators(all_groups(pb.cov_tr.shape[1], pb.table.shape[0]))
    eta = main.solution.intercept + op_tr.matvec(main.solution.beta)
    return pb.y_tr - (eta if pb.loss == "mse" else torch.sigmoid(eta))


def screen(pb: Problem, main: MainStage, cfg: SparseFitConfig, log: Log) -> Candidates:
    """Stage 2: candidate pairs (and triples) by their score on the main-effect residual."""
    src = StateContrasts(pb.states_tr, pb.table)
    resid = residual(pb, main)
    pairs, scores = screen_pairs(
        src, resid, pb.n_active, cfg.max_candidates, cfg.screen_block, cfg.max_pair_r2
    )
    log(f"screening: {len(pairs)} candidate pairs enter (best score {scores[:1]})")
    seeds = pairs[: cfg.triple_seeds]
    # the one place triples are screened: pair extensions merged with a 3-way screen that does
    # not depend on pairs (genoattn/stats/candidates.py; cfg.triple_search)
    triples, tscores = np.zeros((0, 3), dtype=np.int64), np.zeros(0)
    if cfg.max_triples:
        ext = screen_triples(src, resid, pb.n_active, seeds, cfg.max_triples, cfg.max_pair_r2)
        classes = classes_from_states(pb.states_tr, pb.table)
        triples, tscores = candidate_triples(
            classes, resid, cfg.max_triples, cfg.triple_search, ext, seeds, max_r2=cfg.max_pair_r2
        )
        log(f"screening: {len(triples)} candidate triples enter (best score {tscores[:1]})")
    return Candidates(pairs, scores, triples, tscores)


def tuple_weights(
    pb: Problem, main: MainStage, cand: Candidates, cfg: SparseFitConfig
) -> tuple[Weights, Groups]:
    """Adaptive weights of the candidate tuples and the joint groups (main effects + tuples)."""
    # adaptive weights (Zou 2006; Wang & Leng 2008 for groups): a tuple's penalty scales with
    # 1 / its screening score, so strong tuples are shrunk less and weak ones leave first
    top = max(cand.pair_scores.max(initial=0.0), cand.triple_scores.max(initial=0.0))
    act = np.asarray(pb.n_active, dtype=np.float64)
    tuples = [*cand.pairs.tolist(), *cand.triples.tolist()]
    df = np.array([act[list(t)].prod() for t in tuples])
    score = np.r_[cand.pair_scores, cand.triple_scores]
    w = np.sqrt(df) * (top / np.maximum(score, 1e-12)) ** cfg.adaptive
    w_tuples = torch.as_tensor(w, dtype=pb.table.dtype, device=pb.table.device)
    c, l = pb.cov_tr.shape[1], pb.table.shape[0]
    groups = all_groups(c, l, cand.pairs, cand.triples)
    return Weights(c, main.weights.main, w_tuples), groups


def fit_joint(
    pb: Problem,
    main: MainStage,
    cand: Candidates,
    cfg: SparseFitConfig,
    trace: list[TraceRow],
    log: Log,
) -> JointStage:
    """Stage 3: the tuple-penalty path, main-effect penalty held at its chosen value."""
    c, l = pb.cov_tr.shape[1], pb.table.shape[0]
    none = JointStage(all_groups(c, l), main.weights, math.inf, main.val_loss, main.solution)
    if len(cand.pairs) + len(cand.triples) == 0:
        log(f"pairs: lambda inf, validation loss {main.val_loss:.4f}")
        return none
    weights, groups = tuple_weights(pb, main, cand, cfg)
    op_tr, op_va = pb.operators(groups)
    p_main = main.solution.beta.numel()
    beta0 = torch.cat([main.solution.beta, main.solution.beta.new_zeros(op_tr.shape[1] - p_main)])
    offset = op_tr.matvec(beta0)  # the main-effect fit, for lambda_max of the tuple groups
    lmax = lambda_max(op_tr, pb.y_tr, op_tr.blocks, weights.penalty(0.0, 1.0), pb.loss, offset)
    path = run_path(
        op_tr,
        op_va,
        pb.y_tr,
        pb.y_va,
        lambda lam: weights.penalty(main.lam, lam),
        lambda_grid(lmax, cfg),
        pb.loss,
        cfg,
        log,
        "pairs",
        beta0,
        main.solution.intercept,
    )
    trace.extend(TraceRow.of("pairs", p, op_tr.blocks) for p in path)
    better = [p for p in path if p.val_loss < main.val_loss]
    if not better:
        log(f"pairs: lambda inf, validation loss {main.val_loss:.4f}")
        return none
    best = min(better, key=lambda p: p.val_loss)
    if cfg.select_se > 0:
        # the sparsest model (largest lambda) within select_se standard errors of the best
        limit = best.val_loss + cfg.select_se * best.val_se
        best = next(p for p in path if p.val_loss <= limit)
    log(f"pairs: lambda {best.lam:.4g}, validation loss {min(best.val_loss, main.val_loss):.4f}")
    return JointStage(groups, weights, best.lam, best.val_loss, best.solution)


def fit_sparse_sa(
    states_tr: torch.Tensor,
    y_tr: torch.Tensor,
    cov_tr: torch.Tensor,
    states_va: torch.Tensor,
    y_va: torch.Tensor,
    cov_va: torch.Tensor,
    contrasts: Contrasts,
    loss: str,
    cfg: SparseFitConfig,
    log: Log = print,
    stages: SparseStages | None = None,
) -> SparseFit:
    """Fit the invariant by the four stages of the module docstring.

    Args:
        states_tr, states_va: shape (n, l), int8 states of training / validation samples, on
            the compute device (MISSING = -1).
        y_tr, y_va: shape (n,) standardised trait (mse) or 0/1 (logistic); any trait vector
            (e.g. a linearised one) can be fit. Their dtype is the compute dtype.
        cov_tr, cov_va: shape (n, c) standardised covariates.
        stages: the choices of an earlier fit of the same data (its ``SparseFit.stages``):
            only the refit on training + validation samples is done (when the config asks
            for it), with the result the full fit would give.
    Returns:
        the fit; its ``stages`` hold the choices (hold-out selection only).
    """
    table = torch.as_tensor(contrasts.locus, dtype=y_tr.dtype, device=y_tr.device)
    pb = Problem(states_tr, y_tr, cov_tr, states_va, y_va, cov_va, table, contrasts.n_active, loss)
    if cfg.selection == "cv":  # every penalty by K-fold CV on training + validation samples
        from genoattn.sparse.cv import fit_cv  # cv.py builds on the stages of this module

        return fit_cv(pb, cfg, log)
    clock = StageClock()
    if stages is None:
        trace: list[TraceRow] = []
        main = clock.run("main_effects", fit_main, pb, cfg, trace, log)
        cand = clock.run("screening", screen, pb, main, cfg, log)
        joint = clock.run("pairs", fit_joint, pb, main, cand, cfg, trace, log)
        rel = clock.run("relax", relax, pb, main, joint, cfg, trace, log)
        stages = SparseStages(main, joint, rel, trace)
    rel = stages.rel
    if cfg.refit_with_validation:
        rel = clock.run("refit", refit_both, pb, stages, cfg, log)
    fit = assemble(stages.joint, rel, pb, stages.trace)
    fit.stages, fit.seconds = stages, clock.seconds
    return fit


class StageClock:
    """(wall, process CPU) seconds of each stage of one fit (``SparseFit.seconds``, run.json)."""

    def __init__(self) -> None:
        self.seconds: dict[str, tuple[float, float]] = {}

    def run(self, name: str, stage: Callable, *args):
        t, c = time.perf_counter(), time.process_time()
        try:
            return stage(*args)
        finally:
            w0, c0 = self.seconds.get(name, (0.0, 0.0))
            self.seconds[name] = (w0 + time.perf_counter() - t, c0 + time.process_time() - c)

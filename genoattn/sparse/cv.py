"""K-fold cross-validated choice of every penalty of the staged sparse fit (``selection: cv``).

Axis legend: n samples (training + validation: every non-test sample), K folds, m penalties on
a path, g groups, k tuples.

The stages are those of ``fit.py``; what changes is how each penalty is chosen and on which
samples the chosen model is fit:

1. main effects: the path of ``fit_main`` is solved on each fold's training part (the other K-1
   folds) and scored on the fold; the penalty with the lowest K-fold mean loss is kept and the
   model is fit on all n samples (glmnet's ``cv.glmnet``, Friedman, Hastie & Tibshirani 2010);
2. screening runs once, on the residual of that fit on all n samples;
3. the tuple path is cross-validated the same way, each fold's path warm-started at the fold's
   own main-effect solution; a tuple penalty is kept only if its K-fold loss beats the main-effect
   model's, and ``select_se`` > 0 applies the one-standard-error rule (Breiman et al. 1984: the
   sparsest model within ``select_se`` standard errors of the best);
4. the relaxation factor gamma is cross-validated on the selected groups (warm starts from each
   fold's tuple solution), and the chosen model is refit on all n samples.

Warm starts run along every path (largest penalty first) and from stage to stage within a fold,
so the cost is about K + 1 times that of the solves of one holdout fit; screening, usually the
largest single cost, runs once. The selection frequency of a tuple is the fraction of folds whose
fit at the chosen penalty keeps it (the stability of Meinshausen & Buehlmann 2010, with folds in
place of subsamples). Screening and the adaptive weights use all n samples, so the K-fold
losses are slightly optimistic for tuples (as for any screen-then-cross-validate procedure);
they only rank penalties here, and confirmation uses the untouched test samples.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import torch

from genoattn.config import SparseFitConfig
from genoattn.sparse.fit import (
    Candidates,
    JointStage,
    MainStage,
    Problem,
    Relaxed,
    Weights,
    assemble,
    main_weights,
    refit_groups,
    screen,
    tuple_weights,
)
from genoattn.sparse.group_lasso import (
    GroupLassoResult,
    group_norms,
    lambda_max,
    select_groups,
)
from genoattn.sparse.operator import Groups, all_groups, working_operator
from genoattn.sparse.path import (
    PathPoint,
    TraceRow,
    lambda_grid,
    run_path,
    solve_logged,
    solver_design,
    validation_loss,
)
from genoattn.sparse.result import SparseFit

Log = Callable[[str], None]


def make_folds(n: int, k: int, seed: int) -> np.ndarray:
    """shape (n,) int64: the fold of each sample, a seeded permutation dealt round-robin (fold
    sizes differ by at most one)."""
    fold = np.empty(n, dtype=np.int64)
    fold[np.random.default_rng(seed).permutation(n)] = np.arange(n) % k
    return fold


def fold_problems(pb: Problem, fold: np.ndarray) -> list[Problem]:
    """One problem per fold: training = the other folds, validation = the fold."""
    out = []
    for f in range(int(fold.max()) + 1):
        va = torch.as_tensor(np.flatnonzero(fold == f), device=pb.y_tr.device)
        tr = torch.as_tensor(np.flatnonzero(fold != f), device=pb.y_tr.device)
        s, y, c = pb.states_tr, pb.y_tr, pb.cov_tr
        out.append(
            Problem(s[tr], y[tr], c[tr], s[va], y[va], c[va], pb.table, pb.n_active, pb.loss)
        )
    return out


@dataclass(frozen=True)
class CVCurve:
    """K-fold losses of one path: ``mean``, ``se`` shape (m,); ``folds[f][j]`` the solve of
    fold f at penalty j (its ``val_loss`` on fold f)."""

    lambdas: list[float]
    mean: np.ndarray
    se: np.ndarray
    folds: list[list[PathPoint]]


def cv_curve(lambdas: list[float], folds: list[list[PathPoint]], sizes: list[int]) -> CVCurve:
    """Sample-weighted mean of the fold losses and its standard error (as ``cv.glmnet``:
    sqrt(weighted variance of the fold means / (K - 1)))."""
    loss = np.array([[p.val_loss for p in path] for path in folds])  # (K, m)
    w = np.asarray(sizes, dtype=np.float64)[:, None] / sum(sizes)
    mean = (w * loss).sum(0)
    se = np.sqrt((w * (loss - mean) ** 2).sum(0) / max(len(folds) - 1, 1))
    return CVCurve(lambdas, mean, se, folds)


def choose(curve: CVCurve, allowed: np.ndarray | None = None, n_se: float = 0.0) -> int:
    """Index of the penalty with the lowest K-fold loss among ``allowed`` (the first, i.e.
    largest penalty, of equal losses); with ``n_se`` > 0 the largest penalty whose loss is
    within ``n_se`` standard errors of that minimum. -1 when nothing is allowed."""
    ok = np.ones(len(curve.mean), dtype=bool) if allowed is None else allowed
    if not ok.any():
        return -1
    masked = np.where(ok, curve.mean, np.inf)
    best = int(np.argmin(masked))
    if n_se > 0:
        limit = curve.mean[best] + n_se * curve.se[best]
        best = int(np.flatnonzero(ok & (curve.mean <= limit))[0])
    return best


def full_path(
    pb: Problem,
    groups: Groups,
    penalty: Callable[[float], torch.Tensor],
    lambdas: list[float],
    cfg: SparseFitConfig,
    log: Log,
    stage: str,
    beta0: torch.Tensor | None = None,
    intercept0: float | None = None,
) -> list[GroupLassoResult]:
    """The path on all samples of ``pb`` (no validation), warm-started along it."""
    op = pb.operators(groups)[0]
    solver = solver_design(op, pb.y_tr, pb.loss, cfg)
    out = []
    for lam in lambdas:
        res = solve_logged(
            solver, pb.y_tr, penalty(lam), pb.loss, cfg, log, f"{stage}, lambda {lam:.4g}",
            beta0, intercept0,
        )  # fmt: skip
        out.append(res)
        beta0, intercept0 = res.beta, res.intercept
    return out


def _fold_paths(
    folds: list[Problem],
    groups: list[Groups],
    penalty: list[Callable[[float], torch.Tensor]],
    lambdas: list[float],
    cfg: SparseFitConfig,
    log: Log,
    stage: str,
    starts: list[GroupLassoResult | None],
) -> CVCurve:
    """The path on every fold, with the fold's own groups and penalties; fold f's first solve
    starts at ``starts[f]`` (None: zeros and the trait mean)."""
    paths = []
    for f, fp in enumerate(folds):
        op_tr, op_va = fp.operators(groups[f])
        solver = solver_design(op_tr, fp.y_tr, fp.loss, cfg)
        st = starts[f]
        b0 = None if st is None else _pad(st.beta, op_tr.shape[1])
        i0 = None if st is None else st.intercept
        paths.append(
            run_path(
                solver,
                op_va,
                fp.y_tr,
                fp.y_va,
                penalty[f],
                lambdas,
                fp.loss,
                cfg,
                log,
                f"{stage}, fold {f + 1}",
                b0,
                i0,
                early_stop=False,  # the folds' points are pooled per penalty: whole paths
            )  # fmt: skip
        )
    return cv_curve(lambdas, paths, [len(fp.y_va) for fp in folds])


def _pad(beta: torch.Tensor, p: int) -> torch.Tensor:
    """``beta`` (main-effect columns first) padded with zeros to ``p`` columns."""
    return torch.cat([beta, beta.new_zeros(p - beta.numel())])


def _rows(stage: str, curve: CVCurve, full: list[GroupLassoResult], blocks) -> list[TraceRow]:
    return [
        TraceRow.of(stage, PathPoint(lam, float(m), float(s), res), blocks)
        for lam, m, s, res in zip(curve.lambdas, curve.mean, curve.se, full, strict=True)
    ]


def _pen(weights: Weights, lam_main: float | None) -> Callable[[float], torch.Tensor]:
    """lambda -> penalties: main effects on the path (``lam_main`` None) or held at lam_main
    with tuples on the path."""
    if lam_main is None:
        return lambda lam: weights.penalty(lam, 0.0)
    return lambda lam: weights.penalty(lam_main, lam)


def cv_main(
    pb: Problem, folds: list[Problem], cfg: SparseFitConfig, trace: list[TraceRow], log: Log
) -> tuple[MainStage, list[MainStage], float]:
    """Stage 1 with the main-effect penalty chosen by K-fold cross-validation; each fold has
    its own adaptive weights (from its training part). Returns the stage on all samples, each
    fold's stage at the chosen penalty and the chosen K-fold loss."""
    c, l = pb.cov_tr.shape[1], pb.table.shape[0]
    groups = all_groups(c, l)
    weights = main_weights(pb, cfg)
    fold_w = [main_weights(fp, cfg) for fp in folds]
    op = pb.operators(groups)[0]
    lmax = lambda_max(op, pb.y_tr, op.blocks, weights.penalty(1.0, 0.0), pb.loss)
    lambdas = lambda_grid(lmax, cfg)
    k = len(folds)
    pens = [_pen(w, None) for w in fold_w]
    curve = _fold_paths(folds, [groups] * k, pens, lambdas, cfg, log, "main", [None] * k)
    full = full_path(pb, groups, _pen(weights, None), lambdas, cfg, log, "main")
    trace.extend(_rows("main", curve, full, op.blocks))
    j = choose(curve)
    log(f"main effects: lambda {lambdas[j]:.4g}, {k}-fold CV loss {curve.mean[j]:.4f}")
    main = MainStage(lambdas[j], float(curve.mean[j]), full[j], weights, None)
    fold_main = [
        MainStage(lambdas[j], path[j].val_loss, path[j].solution, w, None)
        for path, w in zip(curve.folds, fold_w, strict=True)
    ]
    return main, fold_main, float(curve.mean[j])


def _joint_of(pb: Problem, main: MainStage, cand: Candidates, cfg) -> tuple[Weights, Groups]:
    """Weights and groups of a joint design (main effects only when there is no candidate)."""
    if len(cand.pairs) + len(cand.triples):
        return tuple_weights(pb, main, cand, cfg)
    return main.weights, all_groups(pb.cov_tr.shape[1], pb.table.shape[0])


def _tuples(g: Groups) -> list[tuple[int, ...]]:
    return [tuple(t) for t in [*g.pairs.tolist(), *g.triples.tolist()]]


def cv_joint(
    pb: Problem,
    folds: list[Problem],
    main: tuple[MainStage, list[MainStage], float],
    cfg: SparseFitConfig,
    trace: list[TraceRow],
    log: Log,
) -> tuple[JointStage, list[JointStage], dict[tuple[int, ...], float]]:
    """Stages 2-3 cross-validated: every fold screens its own training residual (so its
    candidates and adaptive weights never saw the fold) and solves the common tuple path.

    Returns the stage on all samples, each fold's stage at the chosen penalty and the selection
    frequency of every tuple some fold kept there."""
    ms, fold_main, main_loss = main
    k = len(folds)
    cand = screen(pb, ms, cfg, log)
    fold_wg = [_joint_of(fp, fm, screen(fp, fm, cfg, log), cfg)
               for fp, fm in zip(folds, fold_main, strict=True)]  # fmt: skip
    none = JointStage(all_groups(pb.cov_tr.shape[1], pb.table.shape[0]), ms.weights, math.inf,
                      ms.val_loss, ms.solution)  # fmt: skip
    fold_none = [JointStage(none.groups, fm.weights, math.inf, fm.val_loss, fm.solution)
                 for fm in fold_main]  # fmt: skip
    if len(cand.pairs) + len(cand.triples) == 0:
        log(f"pairs: lambda inf, {k}-fold CV loss {main_loss:.4f}")
        return none, fold_none, {}
    weights, groups = tuple_weights(pb, ms, cand, cfg)
    op = pb.operators(groups)[0]
    beta0 = _pad(ms.solution.beta, op.shape[1])
    offset = op.matvec(beta0)  # the main-effect fit, for lambda_max of the tuple groups
    lmax = lambda_max(op, pb.y_tr, op.blocks, weights.penalty(0.0, 1.0), pb.loss, offset)
    lambdas = lambda_grid(lmax, cfg)
    pens = [_pen(w, ms.lam) for w, _ in fold_wg]
    starts = [fm.solution for fm in fold_main]
    curve = _fold_paths(folds, [g for _, g in fold_wg], pens, lambdas, cfg, log, "pairs", starts)
    full = full_path(pb, groups, _pen(weights, ms.lam), lambdas, cfg, log, "pairs", beta0,
                     ms.solution.intercept)  # fmt: skip
    trace.extend(_rows("pairs", curve, full, op.blocks))
    j = choose(curve, curve.mean < main_loss, cfg.select_se)
    if j < 0:
        log(f"pairs: lambda inf, {k}-fold CV loss {main_loss:.4f}")
        return none, fold_none, {}
    sel: dict[tuple[int, ...], float] = {}
    fold_joint = []
    for (w, g), path in zip(fold_wg, curve.folds, strict=True):
        fop = folds[0].operators(g)[0]
        c_l = fop.blocks[0][0] + fop.blocks[1][0]
        nz = (group_norms(path[j].solution.beta, fop.blocks)[c_l:] > 0).tolist()
        for t, on in zip(_tuples(g), nz, strict=True):
            sel[t] = sel.get(t, 0.0) + on / k
        fold_joint.append(JointStage(g, w, lambdas[j], path[j].val_loss, path[j].solution))
    log(f"pairs: lambda {lambdas[j]:.4g}, {k}-fold CV loss {curve.mean[j]:.4f}")
    return JointStage(groups, weights, lambdas[j], float(curve.mean[j]), full[j]), fold_joint, sel


def _relax_fold(
    fp: Problem, js: JointStage, lam_main: float, cfg: SparseFitConfig, log: Log, what: str
) -> list[PathPoint]:
    """The relaxed refits of one fold's selected groups for every gamma, warm-started in turn
    (on all samples when ``fp`` has no validation part: then val_loss is NaN)."""
    budget = cfg.work_budget_mb * 2**20
    op_tr, op_va = fp.operators(js.groups)
    keep = refit_groups(js, op_tr.blocks)
    cols = select_groups(op_tr.blocks, keep)
    lam_t = 0.0 if math.isinf(js.lam_tuple) else js.lam_tuple
    pen = js.weights.penalty(lam_main, lam_t)[keep]
    sub_tr = solver_design(working_operator(op_tr, keep, budget), fp.y_tr, fp.loss, cfg)
    sub_va = op_va.select(keep)
    beta0, b0, out = _pad(js.solution.beta, op_tr.shape[1])[cols], js.solution.intercept, []
    for gamma in cfg.relax:
        r = solve_logged(sub_tr, fp.y_tr, pen * gamma, fp.loss, cfg, log,
                         f"relax, gamma {gamma}{what}", beta0, b0)  # fmt: skip
        vl = validation_loss(sub_va, fp.y_va, r, fp.loss) if len(fp.y_va) else (math.nan,) * 2
        out.append(PathPoint(gamma, *vl, r))
        beta0, b0 = r.beta, r.intercept
    return out


def cv_relax(
    pb: Problem,
    folds: list[Problem],
    main: MainStage,
    joint: tuple[JointStage, list[JointStage]],
    cfg: SparseFitConfig,
    trace: list[TraceRow],
    log: Log,
) -> Relaxed:
    """Stage 4: gamma chosen by K-fold loss (each fold relaxes its own selection), and the
    relaxed refit of the selection on all samples."""
    js, fold_joint = joint
    paths = [_relax_fold(fp, fj, main.lam, cfg, log, f", fold {f + 1}")
             for f, (fp, fj) in enumerate(zip(folds, fold_joint, strict=True))]  # fmt: skip
    curve = cv_curve(list(cfg.relax), paths, [len(fp.y_va) for fp in folds])
    j = choose(curve)
    full = _relax_fold(pb, js, main.lam, cfg, log, "")
    blocks = pb.operators(js.groups)[0].blocks
    keep = refit_groups(js, blocks)
    sub_blocks = working_operator(pb.operators(js.groups)[0], keep, 0).blocks
    for i, p in enumerate(full):
        point = PathPoint(js.lam_tuple, float(curve.mean[i]), float(curve.se[i]), p.solution)
        trace.append(TraceRow.of("relax", point, sub_blocks, p.lam))
    gamma = cfg.relax[j]
    log(f"relaxation: gamma {gamma}, {len(folds)}-fold CV loss {curve.mean[j]:.4f}")
    return Relaxed(gamma, float(curve.mean[j]), keep, full[j].solution)


def stability_rows(fit: SparseFit, lam: float, sel: dict) -> list[TraceRow]:
    """One ``stability`` row per tuple kept in ``fit``, with its selection frequency."""
    return [
        TraceRow(
            "stability",
            lam,
            1.0,
            math.nan,
            0,
            0,
            0,
            True,
            math.nan,
            "|".join(str(i) for i in t),
            sel.get(tuple(t), 0.0),
        )  # fmt: skip
        for t in [*fit.pairs.tolist(), *fit.triples.tolist()]
    ]


def fit_cv(pb: Problem, cfg: SparseFitConfig, log: Log = print) -> SparseFit:
    """The staged fit with every penalty chosen by ``cfg.cv_folds``-fold cross-validation on
    the training and validation samples of ``pb`` together (every non-test sample)."""
    states = torch.cat([pb.states_tr, pb.states_va])
    y, cov = torch.cat([pb.y_tr, pb.y_va]), torch.cat([pb.cov_tr, pb.cov_va])
    pb = Problem(states, y, cov, states[:0], y[:0], cov[:0], pb.table, pb.n_active, pb.loss)
    folds = fold_problems(pb, make_folds(len(pb.y_tr), cfg.cv_folds, cfg.cv_seed))
    trace: list[TraceRow] = []
    main = cv_main(pb, folds, cfg, trace, log)
    joint, fold_joint, sel = cv_joint(pb, folds, main, cfg, trace, log)
    rel = cv_relax(pb, folds, main[0], (joint, fold_joint), cfg, trace, log)
    fit = assemble(joint, rel, pb, trace)
    rows = stability_rows(fit, joint.lam_tuple, sel)
    fit.trace.extend(asdict(r) for r in rows)
    fit.pair_sel_freq = np.array([r.sel_freq for r in rows[: len(fit.pairs)]])
    fit.triple_sel_freq = np.array([r.sel_freq for r in rows[len(fit.pairs) :]])
    return fit

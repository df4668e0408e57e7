"""Stage 4 of the sparse fit (``fit.py``): the relaxed refit of the selected groups, the refit on
training + validation samples, and the assembly of the result.

Axis legend: n samples, l loci, d contrasts per locus, k candidate tuples, c covariates,
g groups, p columns.

The refit on training + validation samples needs only the choices of the earlier stages
(:class:`SparseStages`), so a fit whose refit is deferred (``fit auto``: the sparse candidate
is refit only if it wins) is finished by :func:`refit_both` without solving its path again.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import asdict

import numpy as np
import torch

from genoattn.config import SparseFitConfig
from genoattn.sparse.gram import GramDesign
from genoattn.sparse.group_lasso import group_norms, select_groups
from genoattn.sparse.operator import working_operator
from genoattn.sparse.path import PathPoint, TraceRow, solve_logged, solver_design, validation_loss
from genoattn.sparse.records import JointStage, MainStage, Problem, Relaxed, SparseStages
from genoattn.sparse.result import SparseFit

Log = Callable[[str], None]


def refit_groups(joint: JointStage, blocks) -> torch.Tensor:
    """shape (g,) bool: non-zero groups, every covariate, and (strong heredity) the main effects
    of the loci of every selected tuple."""
    keep = group_norms(joint.solution.beta, blocks) > 0
    c, l = blocks[0][0], blocks[1][0]
    keep[:c] = True
    g = joint.groups
    tuples = [*g.pairs.tolist(), *g.triples.tolist()]
    for t, sel in zip(tuples, keep[c + l :].tolist(), strict=True):
        if sel:
            keep[c + torch.as_tensor(t, device=keep.device)] = True
    return keep


def _penalty(main: MainStage, joint: JointStage, keep: torch.Tensor) -> torch.Tensor:
    """shape (g_kept,): the penalties of the kept groups at the chosen lambdas."""
    lam_t = 0.0 if math.isinf(joint.lam_tuple) else joint.lam_tuple
    return joint.weights.penalty(main.lam, lam_t)[keep]


def relax(
    pb: Problem,
    main: MainStage,
    joint: JointStage,
    cfg: SparseFitConfig,
    trace: list[TraceRow],
    log: Log,
) -> Relaxed:
    """Stage 4: refit the selected groups with the penalty shrunk by each factor gamma."""
    op_tr, op_va = pb.operators(joint.groups)
    keep = refit_groups(joint, op_tr.blocks)
    cols = select_groups(op_tr.blocks, keep)
    if main.gram is not None and len(joint.groups.pairs) + len(joint.groups.triples) == 0:
        sub_tr = main.gram.select(keep)
    else:
        budget = cfg.work_budget_mb * 2**20
        sub_tr = solver_design(working_operator(op_tr, keep, budget), pb.y_tr, pb.loss, cfg)
    gram = sub_tr if isinstance(sub_tr, GramDesign) else None
    sub_va = op_va.select(keep)
    pen = _penalty(main, joint, keep)
    best = None
    for gamma in cfg.relax:
        r = solve_logged(
            sub_tr,
            pb.y_tr,
            pen * gamma,
            pb.loss,
            cfg,
            log,
            f"relax, gamma {gamma}",
            joint.solution.beta[cols],
            joint.solution.intercept,
        )
        vl, se = validation_loss(sub_va, pb.y_va, r, pb.loss)
        point = PathPoint(joint.lam_tuple, vl, se, r)
        trace.append(TraceRow.of("relax", point, sub_tr.blocks, gamma))
        if best is None or vl < best.val_loss - 1e-9:
            best = Relaxed(gamma, vl, keep, r, gram)
    assert best is not None
    log(f"relaxation: gamma {best.gamma}, validation loss {best.val_loss:.4f}")
    return best


def refit_both(pb: Problem, stages: SparseStages, cfg: SparseFitConfig, log: Log) -> Relaxed:
    """Every choice is made: refit the chosen model (its groups, penalties and gamma) on
    training + validation samples, warm-started at the relaxed solution."""
    main, joint, best = stages.main, stages.joint, stages.rel
    keep = best.keep
    op_tr, op_va = pb.operators(joint.groups)
    y = torch.cat([pb.y_tr, pb.y_va])
    if best.gram is not None:
        both = best.gram.cat_rows(GramDesign(op_va.select(keep), pb.y_va))
    else:
        both = op_tr.select(keep).cat_rows(op_va.select(keep))
        every = torch.ones_like(keep[keep])
        budget = cfg.work_budget_mb * 2**20
        both = solver_design(working_operator(both, every, budget), y, pb.loss, cfg)
    sol = best.solution
    pen = _penalty(main, joint, keep) * best.gamma
    r = solve_logged(both, y, pen, pb.loss, cfg, log, "refit", sol.beta, sol.intercept)
    return Relaxed(best.gamma, best.val_loss, keep, r, best.gram)


def assemble(joint: JointStage, rel: Relaxed, pb: Problem, trace: list[TraceRow]) -> SparseFit:
    """The relaxed solution, back in the layout of the joint design, as a :class:`SparseFit`."""
    op, _ = pb.operators(joint.groups)
    c, m, k2, k3 = joint.groups.counts
    d = pb.table.shape[2]
    beta = torch.zeros(op.shape[1], dtype=pb.table.dtype, device=pb.table.device)
    beta[select_groups(op.blocks, rel.keep)] = rel.solution.beta
    cov_b, main_b, pair_b, trip_b = (
        t.cpu().numpy() for t in torch.split(beta, [w * cnt for cnt, w in op.blocks])
    )
    pair_b, trip_b = pair_b.reshape(k2, d, d), trip_b.reshape(k3, d, d, d)
    keep2 = np.abs(pair_b).reshape(k2, d * d).sum(1) > 0
    keep3 = np.abs(trip_b).reshape(k3, d**3).sum(1) > 0
    return SparseFit(
        main_beta=main_b.reshape(m, d),
        pairs=joint.groups.pairs[keep2],
        pair_beta=pair_b[keep2],
        cov_beta=cov_b,
        intercept=rel.solution.intercept,
        trace=[asdict(t) for t in trace],
        triples=joint.groups.triples[keep3],
        triple_beta=trip_b[keep3],
    )

"""The lambda path: one warm-started loop shared by the main-effect and the interaction stages.

Axis legend: n samples, p columns, g groups.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from genoattn.config import SparseFitConfig
from genoattn.sparse.gram import GramDesign
from genoattn.sparse.group_lasso import (
    GroupLassoResult,
    group_norms,
    loss_value,
    solve_active_set,
)
from genoattn.sparse.operator import Operator, StatesOperator

#: A design whose Gram matrix is at most this wide is solved through it (mse, n >> p).
GRAM_MAX_COLS = 2048
#: Early stop of a path: it ends once this many consecutive points lie above the running
#: minimum of the validation loss by more than that minimum's standard error (see past_minimum).
PATH_PATIENCE = 3


def solver_design(
    op: Operator, y: torch.Tensor, loss: str, cfg: SparseFitConfig
) -> Operator | GramDesign:
    """The form in which the solver sees ``op``: its Gram matrix when the loss is mse, the
    design is too large to materialise within the budget and narrow (p <= GRAM_MAX_COLS,
    n >= 4 p); else the operator itself."""
    n, p = op.shape
    big = isinstance(op, StatesOperator) and op.dense_bytes() > cfg.work_budget_mb * 2**20
    if loss == "mse" and big and p <= GRAM_MAX_COLS and n >= 4 * p:
        return GramDesign(op, y)
    return op


@dataclass(frozen=True)
class PathPoint:
    """One solve of the path: its penalty, validation loss (and its standard error), solution."""

    lam: float
    val_loss: float
    val_se: float
    solution: GroupLassoResult


@dataclass(frozen=True)
class TraceRow:
    """One row of ``selection.tsv``.

    val_loss: validation loss (``selection: cv``: the K-fold mean), val_se its standard error.
    Stage ``stability`` rows (``selection: cv``) name one tuple of the chosen model (``tuple``:
    its cohort locus indices joined by ``|``) and ``sel_freq``, the fraction of CV folds whose
    fit at the chosen penalty selects it; the other rows leave those two empty.
    """

    stage: str
    lam: float
    gamma: float
    val_loss: float
    n_main: int
    n_pairs: int
    n_iter: int
    converged: bool
    val_se: float = float("nan")
    tuple: str = ""
    sel_freq: float = float("nan")

    @staticmethod
    def of(stage: str, p: PathPoint, blocks, gamma: float = 1.0) -> TraceRow:
        """The row of one solve, with its numbers of non-zero main-effect and tuple groups."""
        nz = group_norms(p.solution.beta, blocks) > 0
        c, m = blocks[0][0], blocks[1][0]
        n_main, n_tuple = int(nz[c : c + m].sum()), int(nz[c + m :].sum())
        s = p.solution
        return TraceRow(
            stage, p.lam, gamma, p.val_loss, n_main, n_tuple, s.n_iter, s.converged, p.val_se
        )


def lambda_grid(lmax: float, cfg: SparseFitConfig) -> list[float]:
    """Geometric grid from ``lmax`` down to ``lmax * lambda_min_ratio``."""
    return [float(v) for v in np.geomspace(lmax, lmax * cfg.lambda_min_ratio, cfg.n_lambda)]


def validation_loss(
    op_va: Operator, y_va: torch.Tensor, res: GroupLassoResult, loss: str
) -> tuple[float, float]:
    """Mean validation loss and its standard error (for the one-standard-error rule)."""
    eta = res.intercept + op_va.matvec(res.beta)
    if loss == "mse":
        per = 0.5 * (y_va - eta) ** 2
    else:
        per = torch.nn.functional.softplus(eta) - y_va * eta
    return loss_value(eta, y_va, loss), float(per.std() / max(len(per), 1) ** 0.5)


def solve_logged(
    op: Operator,
    y: torch.Tensor,
    pen: torch.Tensor,
    loss: str,
    cfg: SparseFitConfig,
    log: Callable[[str], None],
    what: str,
    beta0: torch.Tensor | None = None,
    intercept0: float | None = None,
) -> GroupLassoResult:
    """One active-set group-lasso solve; a solve that stops unconverged is logged (one line).

    ``op``: an operator, or a :class:`GramDesign` of the same problem (mse)."""
    if isinstance(op, GramDesign):
        res = op.solve(pen, beta0, intercept0, cfg.max_iter, cfg.tol)
    else:
        res = solve_active_set(
            op,
            y,
            op.blocks,
            pen,
            loss,
            beta0=beta0,
            intercept0=intercept0,
            max_iter=cfg.max_iter,
            tol=cfg.tol,
            budget_bytes=cfg.work_budget_mb * 2**20,
        )
    if not res.converged:
        log(
            f"warning: group lasso ({what}) stopped after {res.n_iter} iterations without "
            f"reaching tol {cfg.tol:g}"
        )
    return res


def past_minimum(points: list[PathPoint], patience: int = PATH_PATIENCE) -> bool:
    """Whether a path is clearly past its validation minimum: its last ``patience`` points
    all lie more than one standard error (of the best point) above the best validation loss
    so far. Smaller penalties fit the training samples ever closer; once the validation loss
    has risen this far for this long, the rest of the path (the slowest solves) is not
    expected to come back below its minimum.
    """
    if patience < 1 or len(points) <= patience:
        return False
    best = min(points, key=lambda p: p.val_loss)  # the first of equal losses
    limit = best.val_loss + best.val_se
    return all(p.val_loss > limit for p in points[-patience:])


def run_path(
    op_tr: Operator,
    op_va: Operator,
    y_tr: torch.Tensor,
    y_va: torch.Tensor,
    penalty: Callable[[float], torch.Tensor],
    lambdas: list[float],
    loss: str,
    cfg: SparseFitConfig,
    log: Callable[[str], None],
    stage: str,
    beta0: torch.Tensor | None = None,
    intercept0: float | None = None,
    early_stop: bool = True,
) -> list[PathPoint]:
    """Solve along ``lambdas`` (largest first), each solve warm-started at the previous one.

    Args:
        op_tr / op_va: the design on training / validation samples (same columns); op_tr may
            be the :class:`GramDesign` of the training problem.
        penalty: lambda -> per-group penalties, shape (g,).
        beta0 / intercept0: warm start of the first solve (None: zeros and the trait mean).
        early_stop: end the path once :func:`past_minimum` holds (logged); the points returned
            are then a prefix of ``lambdas``. Off for paths whose points are pooled with other
            paths' points at the same penalty (K-fold CV).
    """
    points = []
    for lam in lambdas:
        res = solve_logged(
            op_tr,
            y_tr,
            penalty(lam),
            loss,
            cfg,
            log,
            f"{stage}, lambda {lam:.4g}",
            beta0,
            intercept0,
        )
        vl, se = validation_loss(op_va, y_va, res, loss)
        points.append(PathPoint(lam, vl, se, res))
        beta0, intercept0 = res.beta, res.intercept
        if early_stop and len(points) < len(lambdas) and past_minimum(points, PATH_PATIENCE):
            log(
                f"{stage} path: stopped after {len(points)} of {len(lambdas)} penalties "
                f"(validation loss past its minimum for {PATH_PATIENCE})"
            )
            break
    return points

"""The records of the sparse fit's stages (``fit.py``): the problem, each stage's choice, and
``SparseStages``, every choice of one fit, from which its refit on training + validation samples
is made without solving the path again.

Axis legend: n samples, l loci, K states + 1, d contrasts per locus, k candidate tuples,
c covariates, g groups.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from genoattn.sparse.gram import GramDesign
from genoattn.sparse.group_lasso import GroupLassoResult
from genoattn.sparse.operator import Groups, StatesOperator
from genoattn.sparse.path import TraceRow


@dataclass(frozen=True)
class Problem:
    """The data of one fit: training and validation states, trait, covariates, coding."""

    states_tr: torch.Tensor  # (n_tr, l) int8
    y_tr: torch.Tensor  # (n_tr,)
    cov_tr: torch.Tensor  # (n_tr, c)
    states_va: torch.Tensor  # (n_va, l) int8
    y_va: torch.Tensor  # (n_va,)
    cov_va: torch.Tensor  # (n_va, c)
    table: torch.Tensor  # (l, K, d)
    n_active: np.ndarray  # (l,)
    loss: str

    def operators(self, groups: Groups) -> tuple[StatesOperator, StatesOperator]:
        """The design of ``groups`` on training and on validation samples."""
        tr = StatesOperator(self.states_tr, self.table, self.cov_tr, groups)
        return tr, tr.rows(self.states_va, self.cov_va)


@dataclass(frozen=True)
class Weights:
    """Per-group penalty weights: covariates free, main effects, tuples (pairs then triples)."""

    c: int
    main: torch.Tensor  # (l,)
    tuples: torch.Tensor  # (k2 + k3,)

    def penalty(self, lam_main: float, lam_tuple: float) -> torch.Tensor:
        """shape (g,): the penalty of every group."""
        free = self.main.new_zeros(self.c)
        return torch.cat([free, lam_main * self.main, lam_tuple * self.tuples])


@dataclass(frozen=True)
class MainStage:
    """The chosen main-effect model; ``gram``: the stage's Gram matrix when the solver used
    one (reused by the relaxation of a model without interactions)."""

    lam: float
    val_loss: float
    solution: GroupLassoResult
    weights: Weights
    gram: GramDesign | None


@dataclass(frozen=True)
class Candidates:
    pairs: np.ndarray  # (k2, 2)
    pair_scores: np.ndarray  # (k2,)
    triples: np.ndarray  # (k3, 3)
    triple_scores: np.ndarray  # (k3,)


@dataclass(frozen=True)
class JointStage:
    """The chosen model before relaxation; ``lam_tuple`` is inf when no tuple improved on main
    effects alone (then ``groups`` holds no tuples)."""

    groups: Groups
    weights: Weights
    lam_tuple: float
    val_loss: float
    solution: GroupLassoResult


@dataclass(frozen=True)
class Relaxed:
    gamma: float
    val_loss: float
    keep: torch.Tensor  # (g,) bool: the refit groups of the joint design
    solution: GroupLassoResult  # on the columns of the kept groups
    gram: GramDesign | None = None  # its training Gram matrix when the solver used one (the refit
    # on training + validation samples adds the validation samples' statistics to it)


@dataclass(frozen=True)
class SparseStages:
    """Every choice of one sparse fit before its refit on training + validation samples:
    the main-effect stage, the joint (tuple) stage, the relaxation and the selection trace.
    Small (coefficient vectors and, at most, one (p, p) Gram matrix of the main stage)."""

    main: MainStage
    joint: JointStage
    rel: Relaxed
    trace: list[TraceRow]

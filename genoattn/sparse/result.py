"""The sparse fit's result: the learned invariant in the contrast basis and its selection trace."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from genoattn.sparse.records import SparseStages


@dataclass
class SparseFit:
    """Learned invariant in the contrast basis, plus the selection trace.

    main_beta: (l, d) contrast coefficients of each locus's main-effect group.
    pairs: (k, 2) locus indices of the pair groups kept in the model (a < b).
    pair_beta: (k, d, d) coefficients of z_a (x) z_b.
    triples: (k3, 3) locus indices of the 3-way groups kept (order-3 HyperAttention blocks).
    triple_beta: (k3, d, d, d) coefficients of z_a (x) z_b (x) z_c.
    cov_beta: (c,); intercept: scalar (in the units of the standardised trait).
    trace: list of dicts, the rows of ``selection.tsv`` (``path.TraceRow``).
    pair_sel_freq: (k,) fraction of CV folds whose fit selects each kept pair (``selection:
        cv``); None when the penalties were chosen on one validation split.
    triple_sel_freq: (k3,) the same for the kept triples.
    stages: the choices of the fit (``records.SparseStages``), from which a deferred refit on
        training + validation samples is made without solving the path again; None after CV.
    seconds: (wall, process CPU) seconds of each stage (main_effects, screening, pairs, relax,
        refit).
    """

    main_beta: np.ndarray
    pairs: np.ndarray
    pair_beta: np.ndarray
    cov_beta: np.ndarray
    intercept: float
    trace: list[dict]
    triples: np.ndarray
    triple_beta: np.ndarray
    pair_sel_freq: np.ndarray | None = None
    triple_sel_freq: np.ndarray | None = None
    stages: SparseStages | None = None
    seconds: dict[str, tuple[float, float]] = field(default_factory=dict)

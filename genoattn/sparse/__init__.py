"""The sparse group-lasso fit of the SA_lin invariant: contrasts, design operators, solver,
screening and the staged path."""

from genoattn.sparse.contrasts import Contrasts, fit_contrasts, pair_features
from genoattn.sparse.fit import SparseFit, fit_sparse_sa
from genoattn.sparse.operator import DenseOperator, StatesOperator
from genoattn.sparse.screen import screen_pairs, screen_triples

__all__ = [
    "Contrasts",
    "DenseOperator",
    "SparseFit",
    "StatesOperator",
    "fit_contrasts",
    "fit_sparse_sa",
    "pair_features",
    "screen_pairs",
    "screen_triples",
]

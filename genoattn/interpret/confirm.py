"""Held-out confirmation: a classical interaction test for each reported pair or triple.

Axis legend: k tuples (pairs or triples), n samples (held-out rows), p design columns.

For each tuple the samples called at all of its loci are used. Quantitative traits: OLS.
Binary traits: Firth's penalised-likelihood logistic regression (``firth.py``) and penalised
likelihood-ratio tests: the plain logistic MLE was anti-conservative on the sparse genotype cells
of held-out samples (benchmarks/bench_calibration.py). Covariates enter every model.

* ``product``: the product term is added to all lower-order terms,
  pairs y ~ 1 + g_a + g_b + g_a g_b + z, triples y ~ 1 + main effects + pairwise products +
  g_a g_b g_c + z. effect = its coefficient (log-odds for binary), se, stat = t (OLS, df2 =
  n - rank) or, for binary traits, the signed root of the penalised likelihood ratio (a z
  statistic; se = Firth's Wald SE), two-sided p.
* ``genotype``: state-class cells (genotype classes, or residues for sequences; any number of
  states) against the next lower order, pairs 9 cells vs
  class(a) + class(b), triples 27 cells vs (a, b) + (a, c) + (b, c) cells, all with z.
  stat = F (OLS; effect = partial R^2) or penalised likelihood-ratio chi-square (Firth; effect =
  fraction of deviance explained), df1 = difference of ranks (empty cells adjusted), p.
"""

from __future__ import annotations

import numpy as np
import polars as pl
import torch

from genoattn.contract import MISSING, Dataset
from genoattn.data.standardise import standardise
from genoattn.errors import GenoattnError
from genoattn.interpret.conditioning import (
    condition_sets,
    local_design,
    local_loci,
    local_width,
)
from genoattn.interpret.firth import nested_firth
from genoattn.interpret.scan import check_test, pinv_psd

__all__ = ["condition_sets", "confirm", "confirm_pairs", "confirm_triples", "local_loci"]

_MAX_ELEMS = 20_000_000  # elements of one (k, n, p) design chunk


def _onehot(g: torch.Tensor, m: int = 3) -> torch.Tensor:
    """(k, n) state codes 0..m-1 (dosages 0/1/2 for genotypes) -> (k, n, m) indicators."""
    return torch.nn.functional.one_hot(g.long(), m).to(torch.float64)


def _cells(*oh: torch.Tensor) -> torch.Tensor:
    """Indicators of the joint genotype classes of several loci: (k, n, 3^len(oh))."""
    out = oh[0]
    for o in oh[1:]:
        out = (out[..., :, None] * o[..., None, :]).flatten(-2)
    return out


def designs(
    g: torch.Tensor, z: torch.Tensor, test: str, m: int = 3
) -> tuple[torch.Tensor, torch.Tensor]:
    """Alternative and null designs.

    Args:
        g: shape (k, n, order), float64 dosages (missing already set to 0 and masked out); for
            ``genotype`` any state codes 0..m-1 (multi-allelic classes, residues).
        z: shape (n, c), float64 covariates shared by every tuple, or (k, n, c) per tuple
            (e.g. with its local conditioning loci, :func:`local_design`).

    Returns:
        x1 (k, n, p1) and x0 (k, n, p0). For ``product`` the tested column is x1's column
        ``2^order - 1`` and x0 is x1 without it.
    """
    k, n, order = g.shape
    zk = z.expand(k, n, z.shape[-1])
    one = torch.ones(k, n, 1, dtype=torch.float64)
    if test == "product":
        cols = [one]
        for r in range(1, order + 1):
            for combo in _combos(order, r):
                cols.append(torch.prod(g[..., combo], -1, keepdim=True))
        x1 = torch.cat([*cols, zk], -1)
        t = 2**order - 1
        return x1, torch.cat([x1[..., :t], x1[..., t + 1 :]], -1)
    oh = [_onehot(g[..., j], m) for j in range(order)]
    x1 = torch.cat([_cells(*oh), zk], -1)
    low = [_cells(*[oh[j] for j in combo]) for combo in _combos(order, order - 1)]
    return x1, torch.cat([*low, zk], -1)


def _combos(order: int, r: int) -> list[list[int]]:
    from itertools import combinations

    return [list(c) for c in combinations(range(order), r)]


def _ols(x: torch.Tensor, y: torch.Tensor, w: torch.Tensor):
    """Weighted least squares per tuple: beta (k, p), pinv Gram (k, p, p), rss (k,), rank (k,)."""
    xw = x * w[..., None]
    inv, rank = pinv_psd(xw.mT @ x)
    beta = (inv @ (xw.mT @ y[:, None]))[..., 0]
    res = y[None, :] - (x @ beta[..., None])[..., 0]
    return beta, inv, (w * res * res).sum(-1), rank


def _rank(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    return pinv_psd((x * w[..., None]).mT @ x)[1]


def _test_chunk(g, w, y, z, test: str, binary: bool, m: int = 3) -> dict[str, np.ndarray]:
    from scipy import special  # not scipy.stats: ~0.9 s of import for four tail functions

    x1, x0 = designs(g, z, test, m)
    n = w.sum(-1)
    separated = np.zeros(g.shape[0], dtype=bool)
    r1, r0 = _rank(x1, w), _rank(x0, w)
    df1 = (r1 - r0).to(torch.float64)
    if test == "product":
        t = 2 ** g.shape[2] - 1
        if binary:  # Firth fit; stat = signed root of the penalised LR (see firth.py)
            (beta, inv, dev1), dev0 = nested_firth(x1, x0, y, w)
            lr = (dev0 - dev1).clamp_min(0)
            df2 = torch.full_like(n, float("nan"))
            # (quasi-)complete separation: some called sample's fitted probability is within
            # e^-25 of 0 or 1, the MLE runs off to infinity and the Wald SE means nothing
            separated = (((x1 @ beta[..., None])[..., 0].abs() * w).amax(-1) >= 25).numpy()
        else:
            beta, inv, rss, _ = _ols(x1, y, w)
            df2 = n - r1
            inv = inv * (rss / df2.clamp_min(1))[:, None, None]
        effect = beta[:, t]
        se = torch.sqrt(inv[:, t, t])
        stat = torch.sign(effect) * lr.sqrt() if binary else effect / se
        ok = (df1 == 1) & ((df2 > 0) | binary) & torch.as_tensor(~separated)
        sa, d2 = np.abs(stat.numpy()), df2.numpy()
        p = 2 * (special.ndtr(-sa) if binary else special.stdtr(np.maximum(d2, 1), -sa))
    else:
        if binary:
            (_, _, dev1), dev0 = nested_firth(x1, x0, y, w)
            stat = (dev0 - dev1).clamp_min(0)
            effect = stat / dev0
            df2 = torch.full_like(n, float("nan"))
            p = special.chdtrc(np.maximum(df1.numpy(), 1), stat.numpy())
        else:
            rss1, rss0 = _ols(x1, y, w)[2], _ols(x0, y, w)[2]
            df2 = n - r1
            stat = ((rss0 - rss1).clamp_min(0) / df1.clamp_min(1)) / (rss1 / df2.clamp_min(1))
            effect = 1.0 - rss1 / rss0
            p = special.fdtrc(np.maximum(df1.numpy(), 1), np.maximum(df2.numpy(), 1), stat.numpy())
        se = torch.full_like(n, float("nan"))
        ok = (df1 > 0) & ((df2 > 0) | binary)
    nan = np.where(ok.numpy(), 1.0, np.nan)
    return {
        "note": _notes(g, w, ok.numpy(), (df2 <= 0).numpy() & (not binary), separated, m),
        "effect": effect.numpy() * nan,
        "se": se.numpy() * nan,
        "stat": stat.numpy() * nan,
        "p": np.asarray(p) * nan,
        "n": n.numpy().astype(np.int64),
        "df1": df1.numpy(),  # kept where untestable: DF1 = 0 says why together with the note
        "df2": df2.numpy() * np.where((df2 > 0).numpy(), 1.0, np.nan),
    }


def _notes(
    g, w, ok: np.ndarray, no_df2: np.ndarray, separated: np.ndarray, m: int
) -> list[str | None]:
    """Why a tuple could not be tested on these samples (None where it was tested).

    g: (k, n, order) state codes, w: (k, n) 1 where called at every locus of the tuple.
    """
    present = _onehot(g.reshape(g.shape[0], -1), m).reshape(*g.shape, m) * w[..., None, None]
    n_classes = (present.sum(1) > 0).sum(-1).numpy()  # (k, order) classes seen per locus
    notes: list[str | None] = []
    for t in range(len(ok)):
        if ok[t]:
            notes.append(None)
        elif separated[t]:
            notes.append("logistic fit separated: a genotype combination is all cases or all "
                         "controls in the test samples (no finite effect)")  # fmt: skip
        elif no_df2[t]:
            notes.append("too few test samples called at these loci (N <= parameters)")
        elif (n_classes[t] < 2).any():
            j = int(np.flatnonzero(n_classes[t] < 2)[0])
            notes.append(f"locus {'ABC'[j]} has one genotype class in the test samples")
        else:
            notes.append("genotype class combinations absent in the test samples")
    return notes


def confirm(
    dataset: Dataset,
    tuples: np.ndarray,
    rows=None,
    test: str = "product",
    binary=None,
    condition: list[np.ndarray] | None = None,
) -> pl.DataFrame:
    """Interaction test of each tuple (shape (k, 2) or (k, 3), cohort locus indices) on ``rows``.

    ``condition``: per tuple, cohort loci whose genotype classes enter its null and alternative
    models as covariates (:func:`local_loci`: the local main effects; None: none).

    Returns:
        polars frame in input order: idx_a, idx_b[, idx_c], effect, se, stat, p, n, df1, df2,
        note (see the module docstring; effect..p NaN where the interaction is not estimable
        on these samples, and ``note`` says why, e.g. a genotype class absent in them).
    """
    test = check_test(test)
    binary = dataset.binary if binary is None else bool(binary)
    tuples = np.asarray(tuples, dtype=np.int64)
    if tuples.ndim != 2 or tuples.shape[1] not in (2, 3):
        raise GenoattnError(f"confirm: expected a (k, 2) or (k, 3) index array, got {tuples.shape}")
    cohort = dataset.cohort
    if test == "product" and len(tuples) and not cohort.is_biallelic()[tuples].all():
        raise GenoattnError(
            "confirm: the product test needs biallelic genotype loci (dosages); "
            "use the genotype (state-class) test for multi-allelic or sequence "
            "loci"
        )
    m = int(cohort.n_states[np.unique(tuples)].max()) if len(tuples) else 3
    m = 3 if test == "product" else m
    rows = np.arange(cohort.n_samples) if rows is None else np.asarray(rows)
    y = torch.as_tensor(dataset.y[rows].astype(np.float64))
    if binary and not torch.isin(y, torch.tensor([0.0, 1.0], dtype=torch.float64)).all():
        raise GenoattnError("confirm: a binary trait must be coded 0/1")
    if not binary:
        y = y - y.mean()
    z = torch.as_tensor(standardise(dataset.covariates[rows]))
    order = tuples.shape[1]
    extra = local_width(cohort, condition)
    width = m**order + z.shape[1] + 1 + extra
    step = max(1, _MAX_ELEMS // max(1, len(rows) * width))
    held = cohort.states[rows]
    parts = []
    for s in range(0, len(tuples), step):
        st = held[:, tuples[s : s + step].reshape(-1)]
        st = st.reshape(len(rows), -1, order).transpose(1, 0, 2)  # (k, n, order)
        w = torch.as_tensor((st != MISSING).all(-1).astype(np.float64))
        g = torch.as_tensor(np.where(st == MISSING, 0, st).astype(np.float64))
        zt = z
        if extra:
            zt = local_design(held, cohort.n_states, condition[s : s + step], z, extra)
        parts.append(_test_chunk(g, w, y, zt, test, binary, m))
    keys = ("effect", "se", "stat", "p", "n", "df1", "df2")
    out = {c: tuples[:, j] for j, c in enumerate(("idx_a", "idx_b", "idx_c")[:order])}
    for key in keys:
        dt = np.int64 if key == "n" else np.float64
        out[key] = np.concatenate([d[key] for d in parts]) if parts else np.zeros(0, dt)
    notes = [x for d in parts for x in d["note"]]
    return pl.DataFrame(out).with_columns(pl.Series("note", notes, dtype=pl.String))


def confirm_pairs(
    dataset: Dataset,
    pairs: np.ndarray,
    rows=None,
    test: str = "product",
    binary=None,
    condition: list[np.ndarray] | None = None,
) -> pl.DataFrame:
    """:func:`confirm` for pairs, shape (k, 2)."""
    return confirm(dataset, np.asarray(pairs).reshape(-1, 2), rows, test, binary, condition)


def confirm_triples(
    dataset: Dataset,
    triples: np.ndarray,
    rows=None,
    test: str = "product",
    binary=None,
    condition: list[np.ndarray] | None = None,
) -> pl.DataFrame:
    """:func:`confirm` for triples, shape (k, 3)."""
    return confirm(dataset, np.asarray(triples).reshape(-1, 3), rows, test, binary, condition)

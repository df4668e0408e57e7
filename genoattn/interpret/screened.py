"""Screened rows of a sparse fit's export: the candidate pairs beyond those the model keeps.

Axis legend: n samples the fit learned from, l loci, k pairs, d contrasts per locus.

A sparse fit's model holds only the pairs its penalty path kept (2 to ~20 on a 2,000-sample
cohort), so an export that ranks the model's pairs lists no more, and a weak planted pair that
the path dropped is never reported (issue 15: recall@10 0.60 against the 4-df scan's 0.80). The
export therefore lists the model's pairs first (``IN_MODEL`` true), then every other locus pair
ranked by the fit's own screening statistic (``sparse/screen.py``: the per-df score
(1/df) sum_uv (w_uv^T r)^2 / ||w_uv||^2 of the pair's interaction contrasts w_uv = z_au z_bv),
computed

* on ALL the samples the fit learned from (training + validation): the fit screens on its
  training samples only, and ranking with the validation samples too is what gave the scan its
  lead; the test samples that confirm each row are never used;
* against the residual r of the fitted model (main effects, covariates and kept pairs), so that a
  row's statistic is conditional on what the model already explains; a kept pair is scored on
  the residual plus its own fitted contribution (conditional on the rest of the model).

``SCREEN`` reports the score over the residual variance: a 1-df score chi-square averaged over
the pair's df (about 1 for a pair without interaction; not a p-value, since the rows are chosen
by it). Pairs of loci in LD above the fit's ``max_pair_r2`` are not screened, as in the fit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from genoattn.contract import Dataset, states_to_tokens, token_offsets
from genoattn.sparse.contrasts import fit_contrasts
from genoattn.sparse.screen import StateContrasts, screen_pairs
from genoattn.system.predictor import predict_batched
from genoattn.system.rundir import Run

#: The screened rows are computed when the screen of every pair on the fit's samples costs at
#: most this many pair x samples (about a minute on one core of the development machine, as much
#: as the fit's own screen); above it the export lists the model's pairs only, and says so: rank
#: every pair of a large cohort with ``genoattn scan`` (tiles, shards, Dask) instead.
SCREEN_BUDGET = 1e11


def affordable(n: int, l: int) -> bool:
    """Whether the screen of all l (l - 1) / 2 pairs on n samples fits ``SCREEN_BUDGET``."""
    return n * l * (l - 1) / 2 <= SCREEN_BUDGET


@dataclass(frozen=True)
class Screened:
    """Pairs ranked by the conditional screening statistic on the fit's samples."""

    pairs: np.ndarray  # (k, 2) a < b, not in the model, best first
    screen: np.ndarray  # (k,) score / residual variance of ``pairs``
    kept_screen: np.ndarray  # (k_model,) the same statistic of the model's pairs, leave-own-out


@dataclass(frozen=True)
class _Fitted:
    """The fit's samples as the screen sees them."""

    source: StateContrasts  # contrasts of the n samples
    resid: torch.Tensor  # (n,) y - fitted response, centred
    n_active: np.ndarray  # (l,)
    offsets: np.ndarray  # (l,) token offsets (tokens are made per pair, never (n, l))
    slope: torch.Tensor  # (n,) d response / d linear predictor: y_std, or p (1 - p)


def _fitted(run: Run, ds: Dataset, rows: np.ndarray) -> _Fitted:
    """Contrasts (coded as the fit codes them) and model residual of the samples ``rows``."""
    states = np.ascontiguousarray(np.asarray(ds.cohort.states)[rows])  # (n, l) int8
    n_states = run.loci["n_states"].to_numpy()
    min_count = run.cfg.model.sparse.min_state_count
    ctr = fit_contrasts(states, n_states, min_count)
    table = torch.as_tensor(ctr.locus, dtype=torch.float32)  # the fit's compute dtype
    offsets = token_offsets(n_states)
    cov = torch.as_tensor(ds.covariates[rows], dtype=torch.float32)
    pred = predict_batched(run.predictor, lambda sl: states_to_tokens(states[sl], offsets), cov)
    resid = ds.y[rows].astype(np.float64) - pred
    src = StateContrasts(torch.as_tensor(states), table)
    p = torch.as_tensor(pred, dtype=torch.float64)
    slope = p * (1 - p) if run.predictor.binary else torch.full_like(p, float(run.predictor.y_std))
    resid = torch.as_tensor(resid - resid.mean(), dtype=torch.float32)
    return _Fitted(src, resid, ctr.n_active, offsets, slope.float())


def pair_score(fitted: _Fitted, a: int, b: int, resid: torch.Tensor) -> float:
    """The screen's per-df score of the pair (a, b) against ``resid`` (n,), computed directly."""
    st = fitted.source.states[:, [a, b]].long() + 1  # (n, 2): the pair's columns only
    za = fitted.source.table[a][st[:, 0]]  # (n, d)
    zb = fitted.source.table[b][st[:, 1]]
    w = (za[:, :, None] * zb[:, None, :]).reshape(len(resid), -1)  # (n, d * d)
    norm2 = (w * w).sum(0)
    ok = norm2 > 1e-12
    num = (w.T @ resid) ** 2 / torch.clamp(norm2, min=1e-12)
    df = int(fitted.n_active[a] * fitted.n_active[b])
    return float(num[ok].sum()) / df if df else 0.0


def _own_contribution(run: Run, fitted: _Fitted, k: int) -> torch.Tensor:
    """(n,) the model's k-th stored pair table at the samples, on the residual's scale (trait
    units; for a case/control trait, linearised: times p (1 - p) at the fitted probability),
    centred."""
    g = run.predictor.genetic
    a, b = g.pairs[k].tolist()
    cols = [a, b]
    tok = states_to_tokens(fitted.source.states[:, cols].numpy(), fitted.offsets[cols])
    st = g.token_state[torch.as_tensor(tok, dtype=torch.int64)]  # (n, 2)
    ok = (st >= 0).all(1)
    f = g.tables[k][st[:, 0].clamp(min=0), st[:, 1].clamp(min=0)].float()
    f = torch.where(ok, f, torch.zeros_like(f)) * fitted.slope
    return f - f.mean()


def screened_pairs(run: Run, ds: Dataset, rows: np.ndarray, keep: int) -> Screened:
    """The best ``keep`` locus pairs outside the model, and the statistic of the model's pairs.

    rows: the samples the fit learned from (training + validation), shape (n,).
    """
    fitted = _fitted(run, ds, rows)
    var = float((fitted.resid**2).mean()) or 1.0
    stored = np.sort(run.predictor.genetic.stored_pairs(), axis=1).reshape(-1, 2)
    kept = {tuple(t) for t in stored.tolist()}
    max_r2 = run.cfg.model.sparse.max_pair_r2
    pairs, scores = screen_pairs(
        fitted.source, fitted.resid, fitted.n_active, keep + len(kept), max_r2=max_r2
    )
    new = np.array([tuple(t) not in kept for t in pairs.tolist()], dtype=bool)
    own = [
        pair_score(fitted, a, b, fitted.resid + _own_contribution(run, fitted, k))
        for k, (a, b) in enumerate(stored.tolist())
    ]
    return Screened(pairs[new][:keep].reshape(-1, 2), scores[new][:keep] / var, np.array(own) / var)

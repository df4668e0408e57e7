"""Candidate locus triples for the sparse HyperAttention fit, found without relying on pairs.

Axis legend: n samples (training rows only), l loci, d contrasts per locus, k candidates.

The 3-way groups of the sparse fit are admitted by a screen on the training residual r of the
main-effect fit. Today's search (``pairs``) only extends the best pairs by a third locus, so a
3-way term with no pairwise trace (a parity-like "pure" triple) is never proposed. Here:

* ``exhaustive`` (``auto`` when l <= ``EXHAUSTIVE_LOCI``): every triple is tested with the 8-df
  pure 3-way genotype-class test of :mod:`genoattn.stats.fit3` on r (27 cells against all
  pairwise cells), blocked as in the exhaustive scan; C(300, 3) = 4.5e6 triples of 1,800
  training samples take about 20 s on 2 CPU cores (benchmarks/bench_triples.py);
* ``contrast`` (``auto`` up to ``CONTRAST_LOCI``): the contrast-score screen of every triple
  (:mod:`genoattn.stats.contrast3`: one matrix product per tile, no per-triple solve, on a
  seeded subset of ``CONTRAST_SAMPLES`` samples), whose best triples (0.1 %, 1,000 to 50,000)
  get the exact 8-df test on every training sample. It sees pure 3-way terms (no lower-order trace
  needed) at ~1/8 of the exhaustive screen's time per triple (benchmarks/bench_triples.py);
* ``focus`` (``auto`` beyond ``CONTRAST_LOCI``, where screening all C(l, 3) triples takes
  more than ~10 minutes on 2 CPU cores): the same exhaustive test among
  ``EXHAUSTIVE_LOCI`` focus loci,
  taken in turn from three rankings: loci of the best screened pairs (pairwise signal), the 2-df
  class-means F test of r (marginal signal left after the penalised main-effect fit) and the
  2-df class-means F test of |r - median(r)| (variance heterogeneity, Brown-Forsythe: a locus
  whose genotype changes the variance of r is a likely partner of an interaction). A pure
  triple without any marginal, pairwise or variance trace is not found this way: no filter on
  lower-order statistics can see it (at L = 1,000 the benchmark found none of the three);
* ``pairs``: only the pair extensions passed in ``extend`` (today's behaviour, unchanged).

In every mode the pair extensions in ``extend`` are merged in, so product-like triples that do
leave pairwise traces keep their route. Scores are F * mean(r^2) (the 3-way screen) or the
extension's per-df score statistic: both are per-df score statistics in units of the residual
variance (about mean(r^2) under the null), so one list is ranked by them. The merged list is
LD-clumped (:func:`clump_triples`): near-copies of one signal enter the joint fit as collinear
groups whose coefficients cancel on training samples and blow up on others (seen as a test
R^2 of -2 on a simulated cohort before clumping, 0.39 after).
"""

from __future__ import annotations

import numpy as np
import torch

from genoattn.contract import MISSING
from genoattn.stats.contrast3 import (
    CONTRAST_SAMPLES,
    contrast_pool,
    contrast_screen,
    exact_fast_f,
)
from genoattn.stats.scan3 import default_block, prepare_triples, screen_all

EXHAUSTIVE_LOCI = 300
CONTRAST_LOCI = 1000  # auto's contrast route up to here (C(1000, 3) = 1.7e8 triples), focus beyond
CLUMP_R2 = 0.5  # near-copy threshold of clump_triples (the export's clumping default)
SEARCHES = ("auto", "exhaustive", "contrast", "focus", "pairs")


def classes_from_contrasts(z: torch.Tensor) -> np.ndarray:
    """Genotype classes (n, l) int8 from contrast vectors (n, l, d).

    Equal contrast vectors are one class; classes are numbered by frequency (0 = most common);
    beyond the third, rarer classes join class 2 (multi-allelic loci, residues); the zero vector
    (missing call, or a state pooled as unseen) is MISSING.
    """
    n, l, d = z.shape
    zz = z.detach().to("cpu", torch.float64)
    key = (zz @ torch.sqrt(torch.arange(2.0, 2.0 + d, dtype=torch.float64))).numpy()
    miss = (zz.abs().sum(-1) == 0).numpy()
    out = np.full((n, l), MISSING, dtype=np.int8)
    for j in range(l):
        ok = ~miss[:, j]
        vals, inv, cnt = np.unique(key[ok, j], return_inverse=True, return_counts=True)
        rank = np.empty(len(vals), dtype=np.int64)
        rank[np.argsort(-cnt, kind="stable")] = np.arange(len(vals))
        out[ok, j] = np.minimum(rank[inv.reshape(-1)], 2)
    return out


def classes_from_states(states: torch.Tensor, table: torch.Tensor) -> np.ndarray:
    """Genotype classes (n, l) int8 from int8 states (n, l) and per-locus contrast tables.

    The same classes as :func:`classes_from_contrasts` without building (n, l, d) contrasts:
    states numbered by training frequency (0 = most common), rarer than the third joined to
    class 2; missing calls and states whose contrast is zero (pooled as unseen) are MISSING.

    Args:
        states: shape (n, l), int8 local states (MISSING = -1).
        table: shape (l, K, d): contrast vector of state k - 1 at row k (row 0 = missing).
    """
    n, l = states.shape
    k_all = table.shape[1]
    zero = (table.abs().sum(-1) == 0).cpu()  # (l, K)
    tok = states.long().cpu() + 1  # (n, l)
    unseen = torch.gather(zero, 1, tok.T).T  # (n, l): missing call or pooled state
    counts = torch.zeros(l, k_all, dtype=torch.int64)
    counts.scatter_add_(1, tok.T, (~unseen).T.long())
    counts[zero] = 0
    rank = torch.empty_like(counts)
    order = torch.argsort(-counts, dim=1, stable=True)
    rank.scatter_(1, order, torch.arange(k_all).expand(l, -1).contiguous())
    cls = torch.gather(rank, 1, tok.T).T.clamp(max=2)  # (n, l)
    cls[unseen] = MISSING
    return cls.to(torch.int8).numpy()


def _class_f(classes: np.ndarray, v: np.ndarray) -> np.ndarray:
    """One-way class-means F statistic of v (n,) on each locus's classes (n, l): shape (l,)."""
    oh = (classes[:, :, None] == np.arange(3)).astype(np.float64)  # (n, l, 3)
    cnt = oh.sum(0)
    s = np.einsum("nlk,n->lk", oh, v)
    called = cnt.sum(1)
    tot = np.einsum("nlk,n->l", oh, v)
    ss_tot = np.einsum("nlk,n->l", oh, v * v) - tot**2 / np.maximum(called, 1)
    ss_b = (s**2 / np.maximum(cnt, 1)).sum(1) - tot**2 / np.maximum(called, 1)
    df1 = (cnt > 0).sum(1) - 1
    df2 = called - df1 - 1
    with np.errstate(invalid="ignore", divide="ignore"):
        f = (ss_b / np.maximum(df1, 1)) / ((ss_tot - ss_b) / np.maximum(df2, 1))
    return np.where((df1 > 0) & (df2 > 0), np.nan_to_num(f, nan=0.0), 0.0)


def focus_loci(
    classes: np.ndarray, resid: np.ndarray, size: int, seeds: np.ndarray | None = None
) -> np.ndarray:
    """``size`` loci taken in turn from the pair, marginal and variance rankings (sorted)."""
    l = classes.shape[1]
    if size >= l:
        return np.arange(l)
    rankings = [] if seeds is None else [np.asarray(seeds, dtype=np.int64).reshape(-1)]
    rankings.append(np.argsort(-_class_f(classes, resid), kind="stable"))
    rankings.append(np.argsort(-_class_f(classes, np.abs(resid - np.median(resid))), kind="stable"))
    chosen: dict[int, None] = {}
    pos = [0] * len(rankings)
    while len(chosen) < size:
        for i, r in enumerate(rankings):
            while pos[i] < len(r) and int(r[pos[i]]) in chosen:
                pos[i] += 1
            if pos[i] < len(r) and len(chosen) < size:
                chosen[int(r[pos[i]])] = None
    return np.sort(np.fromiter(chosen, dtype=np.int64))


def _r2(classes: np.ndarray, loci: np.ndarray) -> np.ndarray:
    """shape (m, m): largest squared correlation between the class indicators ([g = 1],
    [g = 2], centred, missing as the mean) of every two of ``loci`` (m,)."""
    st = classes[:, loci]
    h = np.stack([(st == 1), (st == 2)], -1).astype(np.float64)  # (n, m, 2)
    called = (st != MISSING)[..., None]
    mean = (h * called).sum(0) / np.maximum(called.sum(0), 1)
    h = np.where(called, h - mean, 0.0)
    sd = np.sqrt((h * h).sum(0))
    h = h / np.where(sd > 0, sd, 1.0)
    return (np.einsum("nau,nbv->abuv", h, h) ** 2).max((2, 3))


def clump_triples(
    classes: np.ndarray, triples: np.ndarray, max_r2: float, copy_r2: float = CLUMP_R2
) -> np.ndarray:
    """shape (k,) bool, for triples (k, 3) (sorted rows) in rank order: keep a triple when no two
    of its loci are in LD (r^2 > max_r2) and no better-ranked kept triple is a copy of it (each
    sorted position the same locus or one with r^2 > copy_r2). Near-copies enter the joint fit
    as collinear groups whose coefficients cancel on training samples and blow up elsewhere."""
    keep = np.zeros(len(triples), dtype=bool)
    if len(triples) == 0:
        return keep
    loci = np.unique(triples)
    pos = np.searchsorted(loci, triples)
    r2 = _r2(classes, loci)
    close, copy = r2 > max_r2, r2 > copy_r2
    np.fill_diagonal(copy, True)
    kept: list[np.ndarray] = []
    for i, (a, b, c) in enumerate(pos.tolist()):
        if close[a, b] or close[a, c] or close[b, c]:
            continue
        t = pos[i]
        if any(copy[t, u].all() for u in kept):
            continue
        keep[i] = True
        kept.append(t)
    return keep


def _contrast(classes: np.ndarray, r: np.ndarray, top: int, max_r2: float, device):
    """The ``contrast`` search: triples (top, 3) and their exact 8-df F (top,), best first."""
    l = classes.shape[1]
    pool = contrast_pool(l * (l - 1) * (l - 2) // 6, top)
    hits = contrast_screen(classes, r, pool, default_block(CONTRAST_SAMPLES),
                           max_r2=max_r2, samples=CONTRAST_SAMPLES, device=device)  # fmt: skip
    f = exact_fast_f(classes, r, hits.idx)
    order = np.argsort(-np.nan_to_num(f, nan=-1.0), kind="stable")[:top]
    return hits.idx[order], f[order]


def candidate_triples(
    classes: np.ndarray | torch.Tensor,
    resid: torch.Tensor | np.ndarray,
    k: int,
    search: str = "auto",
    extend: tuple[np.ndarray, np.ndarray] | None = None,
    seeds: np.ndarray | None = None,
    max_exhaustive_loci: int | None = None,
    max_r2: float = 1.0,
    device: str | torch.device | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Top-k candidate triples by the search of the module docstring.

    Args:
        classes: shape (n, l), int8 genotype classes (0..2, MISSING) of the training samples,
            or their contrast vectors (n, l, d) (see :func:`classes_from_contrasts`).
        resid: shape (n,), training residual of the main-effect fit (covariates fitted there).
        extend: (triples (k', 3), scores (k',)) from the pair-extension search, merged in.
        seeds: shape (k_s, 2), best screened pairs (their loci lead the focus set).
        max_exhaustive_loci: ``auto`` screens exhaustively up to this many loci (default
            ``EXHAUSTIVE_LOCI``, read at call time), by the contrast route beyond and up to
            ``CONTRAST_LOCI``, among focus loci above that.
        max_r2: triples with two loci in LD above this are skipped (as the pair screen does),
            and near-copies of a better triple are clumped away (:func:`clump_triples`).
    Returns:
        triples (k, 3) int64, each row sorted, and their scores (k,), best first.
    """
    if search not in SEARCHES:
        raise ValueError(f"triple search {search!r}; expected one of {SEARCHES}")
    r = torch.as_tensor(resid).detach().to("cpu", torch.float64).numpy()
    best: dict[tuple[int, int, int], float] = {}
    if extend is not None:
        for t, s in zip(np.asarray(extend[0]).reshape(-1, 3).tolist(), extend[1], strict=True):
            key = tuple(sorted(t))
            best[key] = max(best.get(key, -np.inf), float(s))
    l = classes.shape[1]
    if classes.ndim == 3 and k > 0 and search != "pairs":
        classes = classes_from_contrasts(classes)
    if search != "pairs" and k > 0 and l >= 3:
        classes = np.asarray(classes)
        bound = EXHAUSTIVE_LOCI if max_exhaustive_loci is None else max_exhaustive_loci
        dev = device or (resid.device if isinstance(resid, torch.Tensor) else "cpu")
        if search == "auto":
            search = "exhaustive" if l <= bound else "contrast" if l <= CONTRAST_LOCI else "focus"
        if search == "contrast":
            trip, fs = _contrast(classes, r, 4 * k, max_r2, dev)
        else:
            exhaustive = search == "exhaustive"
            loci = np.arange(l) if exhaustive else focus_loci(classes, r, bound, seeds)
            p = prepare_triples(classes[:, loci], r, None, dev)
            res = screen_all(p, "genotype", 4 * k, default_block(len(r)))
            trip, fs = loci[res["idx"]].reshape(-1, 3), res["F"]
        scale = float(np.mean(r * r))
        for t, f in zip(trip.tolist(), fs, strict=True):
            if np.isfinite(f):
                key = tuple(sorted(t))
                best[key] = max(best.get(key, -np.inf), float(f) * scale)
    items = sorted(best.items(), key=lambda kv: -kv[1])
    if items and search != "pairs" and max_r2 < 1.0:
        ok = clump_triples(np.asarray(classes), np.array([t for t, _ in items]), max_r2, CLUMP_R2)
        items = [it for it, o in zip(items, ok, strict=True) if o]
    items = items[:k]
    if not items:
        return np.zeros((0, 3), dtype=np.int64), np.zeros(0)
    return (
        np.array([t for t, _ in items], dtype=np.int64),
        np.array([v for _, v in items], dtype=np.float64),
    )

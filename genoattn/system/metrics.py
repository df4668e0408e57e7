"""Held-out metrics: R^2, Pearson r, and AUC for binary traits (pure numpy)."""

from __future__ import annotations

import numpy as np


def r2_score(y: np.ndarray, pred: np.ndarray) -> float:
    """Coefficient of determination 1 - SS_res / SS_tot (can be negative)."""
    y = np.asarray(y, dtype=np.float64)
    pred = np.asarray(pred, dtype=np.float64)
    ss_tot = float(((y - y.mean()) ** 2).sum())
    if ss_tot == 0:
        return float("nan")
    return 1.0 - float(((y - pred) ** 2).sum()) / ss_tot


def pearson_r(y: np.ndarray, pred: np.ndarray) -> float:
    y = np.asarray(y, dtype=np.float64) - np.mean(y)
    p = np.asarray(pred, dtype=np.float64) - np.mean(pred)
    den = float(np.sqrt((y * y).sum() * (p * p).sum()))
    return float((y * p).sum()) / den if den > 0 else float("nan")


def average_ranks(x: np.ndarray) -> np.ndarray:
    """1-based ranks of x, shape (n,), ties given their average rank (scipy's ``rankdata``).

    Written in numpy so that scoring a fit does not import ``scipy.stats`` (about 0.6 s).
    """
    order = np.argsort(x, kind="stable")
    xs = x[order]
    new = np.r_[True, xs[1:] != xs[:-1]] if len(xs) else np.zeros(0, dtype=bool)
    group = np.cumsum(new) - 1  # tie group of each sorted position
    start = np.flatnonzero(new)  # 0-based first position of each group
    mean_rank = start + (np.bincount(group) + 1) / 2.0
    ranks = np.empty(len(x), dtype=np.float64)
    ranks[order] = mean_rank[group]
    return ranks


def auc_score(y: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve via the Mann-Whitney U statistic (ties get half credit)."""
    y = np.asarray(y).astype(bool)
    n1, n0 = int(y.sum()), int((~y).sum())
    if n1 == 0 or n0 == 0:
        return float("nan")
    ranks = average_ranks(np.asarray(score, dtype=np.float64))
    return float((ranks[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def metrics(y: np.ndarray, pred: np.ndarray, binary: bool) -> dict[str, float]:
    """Metrics of one split: r2 and pearson, plus auc for binary traits (pred = probability)."""
    out = {"n": int(len(y)), "r2": r2_score(y, pred), "pearson": pearson_r(y, pred)}
    if binary:
        out["auc"] = auc_score(y, pred)
    return out

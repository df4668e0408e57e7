"""Dense reference of the staged sparse fit, used only by tests (tests/test_sparse_operator.py).

This is the implementation that preceded ``genoattn/sparse/``: it builds the dense (n, l, d)
contrasts and the dense (n, k, d^m) tuple designs and solves on explicit matrices. The operator
route must give the same fit.

Hierarchical group-lasso fit of the SA_lin interaction invariant A = C diag(w_V).

Axis legend: n samples, l loci, d contrasts per locus, k candidate pairs, c covariates.

Why: with n << |S|^2 a gradient fit of SA_lin interpolates the training set and predicts nothing.
The invariant A (Ustaomeroglu & Qu 2025: C and w_V are identifiable only through C_mn w_n) is
instead fit as a convex, group-sparse problem in the contrast basis of ``contrasts.py``:

1. main effects: one group per locus (the diagonal of A), adaptive weights from each locus's
   marginal score (Zou 2006), lambda chosen on validation samples;
2. screening: the group-lasso KKT score ||Z_ab^T r|| of every locus pair, computed as blocked
   matrix products on the training residual (the "strong rule" of Tibshirani et al. 2012); the
   top ``max_candidates`` pairs enter;
3. joint path: main effects (penalty held) plus candidate pair (and, for HyperAttention,
   triple) groups with adaptive weights from their screening scores, penalty on a path chosen on
   validation samples, warm starts, active sets grown by KKT checks;
4. relaxation: the selected groups, plus the main effects of every locus in a selected
   interaction (strong heredity), are refit with the penalty shrunk by gamma (relaxed lasso,
   Meinshausen 2007), gamma chosen on validation samples.

Test samples are never touched here.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from genoattn.config import SparseFitConfig
from genoattn.sparse.contrasts import Contrasts, pair_features
from genoattn.sparse.group_lasso import (
    lambda_max,
    loss_value,
    solve_active_set,
)


@dataclass
class SparseFit:
    """Learned invariant in the contrast basis, plus the selection trace.

    main_beta: (l, d) contrast coefficients of each locus's main-effect group.
    pairs: (k, 2) locus indices of the pair groups kept in the model (a < b).
    pair_beta: (k, d, d) coefficients of z_a (x) z_b.
    triples: (k3, 3) locus indices of the 3-way groups kept (order-3 HyperAttention blocks).
    triple_beta: (k3, d, d, d) coefficients of z_a (x) z_b (x) z_c.
    cov_beta: (c,); intercept: scalar (in the units of the standardised trait).
    trace: list of dicts (stage, lambda, gamma, val_loss, n_pairs, n_main).
    """

    main_beta: np.ndarray
    pairs: np.ndarray
    pair_beta: np.ndarray
    cov_beta: np.ndarray
    intercept: float
    trace: list[dict]
    triples: np.ndarray
    triple_beta: np.ndarray


def _lambda_grid(lmax: float, cfg: SparseFitConfig) -> list[float]:
    return list(np.geomspace(lmax, lmax * cfg.lambda_min_ratio, cfg.n_lambda))


def _past_minimum(losses: list[float], ses: list[float], patience: int = 3) -> bool:
    """The early stop of a penalty path: the last ``patience`` validation losses all exceed
    the path's smallest one (the first of equal ones) by more than its standard error."""
    if len(losses) <= patience:
        return False
    j = int(np.argmin(losses))
    return all(v > losses[j] + ses[j] for v in losses[-patience:])


def screen_pairs(
    z: torch.Tensor,
    resid: torch.Tensor,
    n_active: np.ndarray,
    k: int,
    block: int = 1024,
    max_r2: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Top-k locus pairs by the per-df score (1/df) sum_uv (w_uv^T r)^2 / ||w_uv||^2 with
    w_uv = z_au z_bv: each term is a 1-df score statistic (times the residual variance).

    Pairs of loci in linkage disequilibrium are skipped (largest squared correlation between
    their contrasts > ``max_r2``): the product of two correlated loci mimics a haplotype or main
    effect, and would take the place of real interactions.

    Args:
        z: shape (n, l, d) contrasts of the training samples; resid: shape (n,).
        n_active: shape (l,), contrasts in use per locus (df of a pair = product).
    Returns:
        pairs (k, 2) int64 with a < b, and their scores (k,), best first.
    """
    n, l, d = z.shape
    if k == 0 or l < 2:
        return np.zeros((0, 2), dtype=np.int64), np.zeros(0)
    zr = z * resid[:, None, None]  # (n, l, d)
    z2 = z * z  # (n, l, d): for the squared norms of the product columns
    act = torch.as_tensor(n_active, dtype=z.dtype, device=z.device)
    best_s = torch.empty(0, dtype=z.dtype, device=z.device)
    best_i = torch.empty((0, 2), dtype=torch.int64, device=z.device)
    for a0 in range(0, l, block):
        a1 = min(a0 + block, l)
        for b0 in range(a0, l, block):
            b1 = min(b0 + block, l)
            s = torch.zeros(a1 - a0, b1 - b0, dtype=z.dtype, device=z.device)
            ld = torch.zeros_like(s)
            zb = z[:, b0:b1, :].reshape(n, -1)  # (n, lb*d)
            zb2 = z2[:, b0:b1, :].reshape(n, -1)
            for u in range(d):
                # (n, la)^T (n, d*lb): all v at once
                m = zr[:, a0:a1, u].T @ zb
                norm2 = z2[:, a0:a1, u].T @ zb2
                s += (m**2 / torch.clamp(norm2, min=1e-12)).reshape(a1 - a0, b1 - b0, d).sum(-1)
                c = (z[:, a0:a1, u].T @ zb / n).reshape(a1 - a0, b1 - b0, d)
                ld = torch.maximum(ld, (c**2).amax(-1))
            df = act[a0:a1, None] * act[None, b0:b1]
            s = torch.where(df > 0, s / torch.clamp(df, min=1), torch.zeros_like(s))
            ia = torch.arange(a0, a1, device=z.device)[:, None]
            ib = torch.arange(b0, b1, device=z.device)[None, :]
            s = torch.where((ib > ia) & (ld <= max_r2), s, torch.full_like(s, -1.0))
            flat = s.flatten()
            kk = min(k, flat.numel())
            top_s, top_j = torch.topk(flat, kk)
            idx = torch.stack([top_j // (b1 - b0) + a0, top_j % (b1 - b0) + b0], dim=1)
            best_s = torch.cat([best_s, top_s])
            best_i = torch.cat([best_i, idx])
            if best_s.numel() > k:
                keep = torch.topk(best_s, k).indices
                best_s, best_i = best_s[keep], best_i[keep]
    order = torch.argsort(best_s, descending=True)
    best_s, best_i = best_s[order], best_i[order]
    ok = best_s >= 0
    return best_i[ok].cpu().numpy(), best_s[ok].cpu().numpy()


def screen_triples(
    z: torch.Tensor,
    resid: torch.Tensor,
    n_active: np.ndarray,
    seeds: np.ndarray,
    k: int,
    max_r2: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Top-k triples (a, b, c) that extend a seed pair (a, b) by any third locus c.

    Score: the per-df sum of normalised 1-df score statistics, as for pairs. Searching seed
    pairs x all loci costs O(k_seed l) triples instead of O(l^3); 3-way effects that leave no
    trace in any pair are found only when their pair is among the seeds (weak heredity).
    Loci in LD with a or b are skipped.

    Args:
        z: (n, l, d) training contrasts; resid: (n,); seeds: (k_seed, 2) pairs.
    Returns: triples (k, 3) sorted within each row, scores (k,), best first.
    """
    n, l, d = z.shape
    if k == 0 or len(seeds) == 0 or l < 3:
        return np.zeros((0, 3), dtype=np.int64), np.zeros(0)
    zf = z.reshape(n, l * d)
    zf2 = zf * zf
    act = np.asarray(n_active, dtype=np.float64)
    best: dict[tuple[int, int, int], float] = {}
    for a, b in np.asarray(seeds).tolist():
        w = (z[:, a, :, None] * z[:, b, None, :]).reshape(n, d * d)  # (n, d^2)
        m = ((w * resid[:, None]).T @ zf).reshape(d * d, l, d)  # (d^2, l, d)
        norm2 = ((w * w).T @ zf2).reshape(d * d, l, d)
        sc = (m**2 / torch.clamp(norm2, min=1e-12)).sum((0, 2))  # (l,)
        df = act[a] * act[b] * act
        sc = torch.where(
            torch.as_tensor(df > 0, device=z.device),
            sc / torch.as_tensor(np.maximum(df, 1), dtype=sc.dtype, device=z.device),
            torch.zeros_like(sc),
        )
        ld = torch.maximum(
            ((z[:, a].T @ zf / n).reshape(d, l, d) ** 2).amax((0, 2)),
            ((z[:, b].T @ zf / n).reshape(d, l, d) ** 2).amax((0, 2)),
        )
        sc[(ld > max_r2)] = -1.0
        sc[[a, b]] = -1.0
        top = torch.topk(sc, min(k, l))
        for c, v in zip(top.indices.tolist(), top.values.tolist(), strict=True):
            if v > 0:
                key = tuple(sorted((a, b, c)))
                best[key] = max(best.get(key, 0.0), v)
    items = sorted(best.items(), key=lambda kv: -kv[1])[:k]
    if not items:
        return np.zeros((0, 3), dtype=np.int64), np.zeros(0)
    return (
        np.array([t for t, _ in items], dtype=np.int64),
        np.array([v for _, v in items], dtype=np.float64),
    )


def tuple_features(z: torch.Tensor, tuples: np.ndarray) -> torch.Tensor:
    """shape (n, k * d^m): row-wise Kronecker products z_a (x) z_b (x) ... of k m-tuples.

    The index of (u, v, w) within a tuple's block is (u * d + v) * d + w.
    """
    n, l, d = z.shape
    k, m = tuples.shape
    out = z[:, torch.as_tensor(tuples[:, 0], device=z.device)]  # (n, k, d)
    for j in range(1, m):
        nxt = z[:, torch.as_tensor(tuples[:, j], device=z.device)]  # (n, k, d)
        out = pair_features(out, nxt)
    return out.reshape(n, -1)


class _Design:
    """Columns [covariates | main (l*d) | pairs (k2*d^2) | triples (k3*d^3)], groups, weights."""

    def __init__(
        self,
        z,
        cov,
        pairs,
        n_active,
        pair_scale=None,
        triples=None,
        triple_scale=None,
        main_scale=None,
    ):
        n, l, d = z.shape
        c = cov.shape[1]
        triples = np.zeros((0, 3), dtype=np.int64) if triples is None else triples
        self.l, self.d, self.c = l, d, c
        self.pairs, self.triples = pairs, triples
        self.n_active = n_active
        parts = [cov, z.reshape(n, l * d)]
        if len(pairs):
            parts.append(tuple_features(z, pairs))
        if len(triples):
            parts.append(tuple_features(z, triples))
        self.x = torch.cat(parts, dim=1)
        dev = z.device
        k2, k3 = len(pairs), len(triples)
        self.blocks = [(c, 1), (l, d), (k2, d**2), (k3, d**3)]
        # group index of every column (for selecting whole groups)
        self.groups = torch.cat(
            [
                torch.arange(c, device=dev),
                c + torch.arange(l, device=dev).repeat_interleave(d),
                c + l + torch.arange(k2, device=dev).repeat_interleave(d**2),
                c + l + k2 + torch.arange(k3, device=dev).repeat_interleave(d**3),
            ]
        )
        act = np.asarray(n_active, dtype=np.float64)
        w_main = np.sqrt(act) * (1.0 if main_scale is None else main_scale)
        w_pair = np.sqrt(act[pairs].prod(1)) if k2 else np.zeros(0)
        w_trip = np.sqrt(act[triples].prod(1)) if k3 else np.zeros(0)
        if pair_scale is not None:
            w_pair = w_pair * pair_scale
        if triple_scale is not None:
            w_trip = w_trip * triple_scale
        self.w_main = torch.as_tensor(w_main, dtype=z.dtype, device=dev)
        self.w_pair = torch.as_tensor(np.r_[w_pair, w_trip], dtype=z.dtype, device=dev)
        self.n_groups = c + l + k2 + k3

    def penalty(self, lam_main: float, lam_pair: float) -> torch.Tensor:
        """Per-group penalties: covariates free, main effects lam_main, interactions lam_pair."""
        zc = torch.zeros(self.c, dtype=self.w_main.dtype, device=self.w_main.device)
        return torch.cat([zc, lam_main * self.w_main, lam_pair * self.w_pair])

    def rows(self, z, cov) -> torch.Tensor:
        """Design matrix of other samples (validation) with the same columns."""
        return _Design(z, cov, self.pairs, self.n_active, triples=self.triples).x

    def split(self, beta: torch.Tensor):
        c, l, d = self.c, self.l, self.d
        k2, k3 = len(self.pairs), len(self.triples)
        o = [0, c, c + l * d, c + l * d + k2 * d**2, c + l * d + k2 * d**2 + k3 * d**3]
        return (
            beta[o[0] : o[1]],
            beta[o[1] : o[2]].reshape(l, d),
            beta[o[2] : o[3]].reshape(k2, d, d),
            beta[o[3] : o[4]].reshape(k3, d, d, d),
        )


def fit_sparse_sa(
    z_tr: torch.Tensor,
    y_tr: torch.Tensor,
    cov_tr: torch.Tensor,
    z_va: torch.Tensor,
    y_va: torch.Tensor,
    cov_va: torch.Tensor,
    contrasts: Contrasts,
    loss: str,
    cfg: SparseFitConfig,
    log: Callable[[str], None] = print,
) -> SparseFit:
    """Fit the invariant by the four stages of the module docstring.

    Args:
        z_tr, z_va: shape (n, l, d) contrasts of training / validation samples.
        y_tr, y_va: shape (n,) standardised trait (mse) or 0/1 (logistic).
        cov_tr, cov_va: shape (n, c) standardised covariates.
    """
    trace: list[dict] = []
    n_active = contrasts.n_active
    empty = np.zeros((0, 2), dtype=np.int64)

    def val_loss(x_va: torch.Tensor, res) -> float:
        eta = res.intercept + x_va @ res.beta
        return loss_value(eta, y_va, loss)

    def val_se(x_va: torch.Tensor, res) -> float:
        """Standard error of the mean validation loss (for the one-standard-error rule)."""
        eta = res.intercept + x_va @ res.beta
        per = (
            0.5 * (y_va - eta) ** 2
            if loss == "mse"
            else torch.nn.functional.softplus(eta) - y_va * eta
        )
        return float(per.std() / max(len(per), 1) ** 0.5)

    # 1. main effects path
    # adaptive main-effect weights from each locus's marginal score on the centred trait
    y0 = y_tr - y_tr.mean()
    zf = z_tr.reshape(z_tr.shape[0], -1)
    m_score = ((zf.T @ y0) ** 2 / torch.clamp((zf * zf).sum(0), min=1e-12)).reshape(
        z_tr.shape[1], z_tr.shape[2]
    ).sum(1).cpu().numpy() / np.maximum(n_active, 1)
    mscale = (m_score.max(initial=0.0) / np.maximum(m_score, 1e-12)) ** (cfg.adaptive / 2)
    dm = _Design(z_tr, cov_tr, empty, n_active, main_scale=mscale)
    xm_va = dm.rows(z_va, cov_va)
    w_all = torch.cat([torch.zeros(dm.c, dtype=dm.x.dtype, device=dm.x.device), dm.w_main])
    lmax = lambda_max(dm.x, y_tr, dm.blocks, w_all, loss)
    best = (math.inf, None, None)
    res = None
    main_losses: list[float] = []
    main_ses: list[float] = []
    for lam in _lambda_grid(lmax, cfg):
        res = solve_active_set(
            dm.x,
            y_tr,
            dm.blocks,
            dm.penalty(lam, 0.0),
            loss,
            beta0=None if res is None else res.beta,
            intercept0=None if res is None else res.intercept,
            max_iter=cfg.max_iter,
            tol=cfg.tol,
        )
        vl = val_loss(xm_va, res)
        n_main = int((res.beta[dm.c :].reshape(dm.l, dm.d).abs().sum(1) > 0).sum())
        trace.append(
            dict(
                stage="main",
                lam=lam,
                gamma=1.0,
                val_loss=vl,
                n_main=n_main,
                n_pairs=0,
                n_iter=res.n_iter,
            )
        )
        if vl < best[0]:
            best = (vl, lam, res)
        main_losses.append(vl)
        main_ses.append(val_se(xm_va, res))
        if _past_minimum(main_losses, main_ses):
            break
    lam_main, res_main = best[1], best[2]
    log(f"main effects: lambda {lam_main:.4g}, validation loss {best[0]:.4f}")

    # 2. screening on the training residual of the chosen main-effect fit
    eta = res_main.intercept + dm.x @ res_main.beta
    resid = (y_tr - eta) if loss == "mse" else (y_tr - torch.sigmoid(eta))
    pairs, scores = screen_pairs(
        z_tr, resid, n_active, cfg.max_candidates, cfg.screen_block, cfg.max_pair_r2
    )
    log(f"screening: {len(pairs)} candidate pairs enter (best score {scores[:1]})")
    triples, tscores = screen_triples(
        z_tr, resid, n_active, pairs[: cfg.triple_seeds], cfg.max_triples, cfg.max_pair_r2
    )
    if cfg.max_triples:
        log(f"screening: {len(triples)} candidate triples enter (best score {tscores[:1]})")

    # 3. joint path over the pair penalty, main-effect penalty held at its chosen value
    # adaptive weights (Zou 2006; Wang & Leng 2008 for groups): a pair's penalty scales with
    # 1 / its screening score, so strong pairs are shrunk less and weak ones leave first
    top = max(scores.max(initial=0.0), tscores.max(initial=0.0))
    scale = (top / np.maximum(scores, 1e-12)) ** cfg.adaptive
    tscale = (top / np.maximum(tscores, 1e-12)) ** cfg.adaptive
    dj = _Design(z_tr, cov_tr, pairs, n_active, scale, triples, tscale, mscale)
    xj_va = dj.rows(z_va, cov_va)
    offset_pairs = torch.cat(
        [
            res_main.beta,
            torch.zeros(dj.x.shape[1] - dm.x.shape[1], dtype=dj.x.dtype, device=dj.x.device),
        ]
    )
    best_j = (best[0], 0.0, None)
    path = []
    if len(pairs) + len(triples):
        w_pairs_only = torch.cat(
            [torch.zeros(dm.c + dm.l, dtype=dj.x.dtype, device=dj.x.device), dj.w_pair]
        )
        lmax_p = lambda_max(
            dj.x, y_tr, dj.blocks, w_pairs_only, loss, offset=(eta - res_main.intercept)
        )
        res = None
        beta0 = offset_pairs
        pair_ses: list[float] = []
        for lam in _lambda_grid(lmax_p, cfg):
            res = solve_active_set(
                dj.x,
                y_tr,
                dj.blocks,
                dj.penalty(lam_main, lam),
                loss,
                beta0=beta0 if res is None else res.beta,
                intercept0=res_main.intercept if res is None else res.intercept,
                max_iter=cfg.max_iter,
                tol=cfg.tol,
            )
            vl = val_loss(xj_va, res)
            _, mb, pb, tb = dj.split(res.beta)
            n_pairs = int((pb.abs().flatten(1).sum(1) > 0).sum())
            n_triples = int((tb.abs().flatten(1).sum(1) > 0).sum())
            n_main = int((mb.abs().sum(1) > 0).sum())
            trace.append(
                dict(
                    stage="pairs",
                    lam=lam,
                    gamma=1.0,
                    val_loss=vl,
                    n_main=n_main,
                    n_pairs=n_pairs + n_triples,
                    n_iter=res.n_iter,
                )
            )
            path.append((vl, lam, res))
            if vl < best_j[0]:
                best_j = (vl, lam, res)
            pair_ses.append(val_se(xj_va, res))
            if _past_minimum([p[0] for p in path], pair_ses):
                break
    if best_j[2] is not None and cfg.select_se > 0:
        # the sparsest model (largest lambda) within select_se standard errors of the best
        limit = best_j[0] + cfg.select_se * val_se(xj_va, best_j[2])
        best_j = next(p for p in path if p[0] <= limit)
    if best_j[2] is None:  # no pair improves on main effects alone
        final_design, final, lam_pair = dm, res_main, math.inf
    else:
        final_design, final, lam_pair = dj, best_j[2], best_j[1]
    log(f"pairs: lambda {lam_pair:.4g}, validation loss {min(best_j[0], best[0]):.4f}")

    # 4. relaxation on the selected groups
    d = final_design
    sel_groups = torch.zeros(d.n_groups, dtype=torch.bool, device=d.x.device)
    sel_groups.index_fill_(0, d.groups[final.beta != 0], True)
    sel_groups[: d.c] = True
    # strong heredity: a selected interaction brings its loci's main-effect groups into the refit
    sel_tuples = [
        t
        for t, g in zip(
            list(d.pairs) + list(d.triples), sel_groups[d.c + d.l :].tolist(), strict=True
        )
        if g
    ]
    for t in sel_tuples:
        sel_groups[d.c + torch.as_tensor(np.asarray(t), device=d.x.device)] = True
    cols = sel_groups[d.groups]
    g0 = d.c + d.l
    g1 = g0 + len(d.pairs)
    b_sel = [
        (d.c, 1),
        (int(sel_groups[d.c : g0].sum()), d.d),
        (int(sel_groups[g0:g1].sum()), d.d**2),
        (int(sel_groups[g1:].sum()), d.d**3),
    ]
    x_sel = d.x[:, cols]
    xva_sel = (xj_va if d is dj else xm_va)[:, cols]
    pen_full = d.penalty(lam_main, 0.0 if math.isinf(lam_pair) else lam_pair)[sel_groups]
    best_r = (math.inf, None, None)
    for gamma in cfg.relax:
        r = solve_active_set(
            x_sel,
            y_tr,
            b_sel,
            pen_full * gamma,
            loss,
            beta0=final.beta[cols],
            intercept0=final.intercept,
            max_iter=cfg.max_iter,
            tol=cfg.tol,
        )
        vl = float(loss_value(r.intercept + xva_sel @ r.beta, y_va, loss))
        trace.append(
            dict(
                stage="relax",
                lam=lam_pair,
                gamma=gamma,
                val_loss=vl,
                n_main=-1,
                n_pairs=-1,
                n_iter=r.n_iter,
            )
        )
        if vl < best_r[0] - 1e-9:
            best_r = (vl, gamma, r)
    gamma, rr = best_r[1], best_r[2]
    log(f"relaxation: gamma {gamma}, validation loss {best_r[0]:.4f}")
    if cfg.refit_with_validation:
        # 5. every choice is made: refit the chosen model on training + validation samples
        rr = solve_active_set(
            torch.cat([x_sel, xva_sel]),
            torch.cat([y_tr, y_va]),
            b_sel,
            pen_full * gamma,
            loss,
            beta0=rr.beta,
            intercept0=rr.intercept,
            max_iter=cfg.max_iter,
            tol=cfg.tol,
        )
    beta = torch.zeros(d.x.shape[1], dtype=d.x.dtype, device=d.x.device)
    beta[cols] = rr.beta

    cov_b, main_b, pair_b, trip_b = d.split(beta)
    keep2 = (pair_b.abs().flatten(1).sum(1) > 0).cpu().numpy()
    keep3 = (trip_b.abs().flatten(1).sum(1) > 0).cpu().numpy()
    return SparseFit(
        main_beta=main_b.cpu().numpy(),
        pairs=np.asarray(d.pairs).reshape(-1, 2)[keep2],
        pair_beta=pair_b.cpu().numpy()[keep2],
        cov_beta=cov_b.cpu().numpy(),
        intercept=rr.intercept,
        trace=trace,
        triples=np.asarray(d.triples).reshape(-1, 3)[keep3],
        triple_beta=trip_b.cpu().numpy()[keep3],
    )

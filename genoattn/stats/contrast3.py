"""Contrast-score screen of every locus triple: one GEMM per tile, no per-triple solve.

Axis legend: n samples, l loci, a / b / c loci of a tile (a: a chunk of every locus before
block b), p / q / r per-locus contrast (2), k kept triples.

The exact 8-df test (:mod:`genoattn.stats.fit3`) needs, per triple, 27 cell counts and sums
(16 multiply-adds per triple-sample in the blocked products) and an 8 x 8 factorisation; on CPU
the factorisation costs as much as the products. This screen needs no factorisation. Each locus
gets two contrasts orthonormal over the sample and orthogonal to the constant: phi_1 (dosage)
and phi_2 (heterozygote indicator, orthogonalised), zero at a missing call. For the 8 products
u_pqr = phi_p(a) phi_q(b) phi_r(c) (the pure 3-way directions), each minus its projections on
the single-locus contrasts (u - rho_bc phi_p(a) - rho_ac phi_q(b) - rho_ab phi_r(c), rho the
pair means of contrast products), the score is

    score = sum_pqr (u_pqr' y)^2 / (sigma^2 ||phi_p(a) phi_q(b) phi_r(c)||^2),  sigma^2 = mean(y^2)

about chi-square 8 under the null for unlinked loci, whatever the lower-order effects of the
three loci, so a pure 3-way term is seen without any marginal, pairwise or variance trace. The
numerators of a tile are one matrix product (n, 2 a)' (n, 4 b c), the norms a second one of the
squares: 16 multiply-adds per triple-sample, no per-triple solve (measured ~2.8x the exhaustive
screen's rate at the same n). It is a screen, not a test: kept triples are rescored exactly.
Power drops when two loci of a triple are in LD (the products then overlap pairwise terms).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from genoattn.contract import MISSING
from genoattn.stats.cells3 import triple_cells
from genoattn.stats.fit3 import genotype_fast

CONTRAST_SAMPLES = 1000  # screen subset of the routes that use it (power ~ n h2, cost ~ n)
CONTRAST_POOL = 50_000  # at most this many best screened triples get the exact test
MIN_SUPPORT = 0.01  # products with fewer effective samples (share of n) are left out of the screen


def contrast_pool(n_triples: int, top: int) -> int:
    """Screened triples rescored exactly: the best 0.1 %, at least max(1000, 4 top), at most
    ``CONTRAST_POOL`` (50,000 of the 1.7e8 triples at L = 1,000)."""
    return int(min(max(CONTRAST_POOL, 4 * top), max(1000, 4 * top, n_triples // 1000)))


@dataclass(frozen=True)
class ContrastHits:
    """Best triples of the screen. idx: shape (k, 3) int64, a < b < c; score: shape (k,)."""

    idx: np.ndarray
    score: np.ndarray


def locus_contrasts(states: torch.Tensor, dtype=torch.float32) -> torch.Tensor:
    """shape (l, 2, n): phi_1 (dosage), phi_2 (heterozygote) of int8 classes (n, l).

    Centred and orthonormalised over the called samples of each locus (mean square 1 over all
    n samples), zero at MISSING; a contrast without variance is zero.
    """
    called = (states != MISSING).T.to(torch.float64)  # (l, n)
    g = states.T.to(torch.float64) * called
    cols = []
    for x in (g, (states.T == 1).to(torch.float64)):
        cnt = called.sum(1, keepdim=True).clamp_min(1)
        x = (x - (x * called).sum(1, keepdim=True) / cnt) * called
        for prev in cols:  # Gram-Schmidt against the earlier contrast
            x = x - prev * (x * prev).sum(1, keepdim=True)
        norm = x.norm(dim=1, keepdim=True)
        cols.append(torch.where(norm > 1e-8, x / norm.clamp_min(1e-300), 0.0))
    return (torch.stack(cols, 1) * states.shape[0] ** 0.5).to(dtype)


@dataclass(frozen=True)
class _Inputs:
    """phi (l, 2, n) contrasts; yphi (l, 2, n) = phi y / sigma; marg (l, 2) = sum of yphi;
    rho (l, 2, l, 2) pair means of phi_p(x) phi_q(y); sq (l, 2, n) = phi^2."""

    phi: torch.Tensor
    yphi: torch.Tensor
    marg: torch.Tensor
    rho: torch.Tensor
    sq: torch.Tensor


def _inputs(st: torch.Tensor, y: torch.Tensor) -> _Inputs:
    phi = locus_contrasts(st)  # (l, 2, n)
    l, _, n = phi.shape
    yphi = phi * (y / y.square().mean().clamp_min(1e-300).sqrt()).to(phi.dtype)
    flat = phi.double().reshape(2 * l, n)
    rho = (flat @ flat.T / max(n, 1)).view(l, 2, l, 2).to(phi.dtype)
    return _Inputs(phi, yphi, yphi.double().sum(-1).to(phi.dtype), rho, phi.square())


def _tile_scores(p: _Inputs, a: slice, b: slice, c: slice, max_r2: float) -> torch.Tensor:
    """shape (a, b, c): scores (module docstring, times n) of one tile, -inf unless a < b < c
    and no two of the loci have dosage r^2 above ``max_r2``."""
    phi, yphi, marg, rho, sq = p.phi, p.yphi, p.marg, p.rho, p.sq
    n = phi.shape[-1]
    pb, pc = phi[b], phi[c]  # (b, 2, n), (c, 2, n)
    na, nb, nc = a.stop - a.start, pb.shape[0], pc.shape[0]
    right = (pb[:, :, None, None, :] * pc[None, None]).reshape(-1, n)  # (4 b c, n)
    num = (yphi[a].reshape(-1, n) @ right.T).view(na, 2, nb, 2, nc, 2)
    # u_pqr minus its projections on the single-locus contrasts (rho: pair means of products):
    # two loci in LD make phi(b) phi(c) partly constant, which would let a's main effect in
    s_a, s_b, s_c = marg[a], marg[b], marg[c]
    num = num - rho[b, :, c][None, None] * s_a[:, :, None, None, None, None]
    num = num - rho[a, :, c][:, :, None, None] * s_b.view(1, 1, nb, 2, 1, 1)
    num = num - rho[a, :, b][..., None, None] * s_c.view(1, 1, 1, 1, nc, 2)
    # ||u_pqr||^2 / n exactly (a second product of the squares): rare genotype classes make
    # the contrasts heavy-tailed, and no product of pair moments approximates it there
    right.square_()
    den = (sq[a].reshape(-1, n) @ right.T).view(na, 2, nb, 2, nc, 2) / n
    # effective support n mean(p^2)^2 / mean(p^4) of each product: a product of rare-genotype
    # spikes lives on a handful of samples, its 8 components are then nearly collinear and
    # their sum is ~8 squared outliers (scores ~20x the null mean, exact F < 1, flooding the
    # pool at L = 1,000); such components are left out of the screen
    right.square_()
    p4 = (sq[a].square().reshape(-1, n) @ right.T).view(na, 2, nb, 2, nc, 2) / n
    ok_support = den.square() >= MIN_SUPPORT * p4
    sc = torch.where(ok_support, num * num / den.clamp_min(1e-6), 0.0).sum((1, 3, 5))  # (a, b, c)
    dev = phi.device
    ia = torch.arange(a.start, a.stop, device=dev)[:, None, None]
    ib = torch.arange(b.start, b.stop, device=dev)[None, :, None]
    ic = torch.arange(c.start, c.stop, device=dev)[None, None, :]
    ok = (ia < ib) & (ib < ic)
    if max_r2 < 1.0:
        r2 = rho[:, 0, :, 0].square()  # dosage contrasts: r^2 of the called dosages
        ok = ok & (r2[a, b] <= max_r2)[:, :, None] & (r2[a, c] <= max_r2)[:, None, :]
        ok = ok & (r2[b, c] <= max_r2)[None]
    return torch.where(ok, sc, float("-inf"))


def contrast_screen(
    states: np.ndarray | torch.Tensor,
    y: np.ndarray | torch.Tensor,
    pool: int,
    block: int = 64,
    chunk: int = 256,
    max_r2: float = 1.0,
    samples: int | None = None,
    seed: int = 0,
    device: str | torch.device = "cpu",
    progress: bool = False,
    log: Callable = print,
) -> ContrastHits:
    """The ``pool`` triples with the largest contrast score (module docstring), best first.

    Args:
        states: shape (n, l), int8 classes 0, 1, 2 or MISSING.
        y: shape (n,), trait already residualised on covariates (and main effects, if fitted).
        block: loci per b / c block (the (4 b c, n) right factor is 16 b^2 n bytes).
        chunk: loci per a chunk of the products.
        max_r2: skip triples with two loci in LD above this (dosage r^2; 1: none skipped).
            Nonlinear functions of one LD block's haplotypes mimic 3-way products of its loci,
            and a main effect there floods the screen with such triples.
        samples: screen on a seeded random subset of this many samples (None: all). The cost
            is linear in the samples and the power of a 3-way term (non-centrality ~ n h2) too,
            so a subset trades power for time; kept triples are rescored on every sample.
    Deterministic: the subset depends only on ``seed``; ties broken by triple index.
    """
    states, y = np.asarray(states, dtype=np.int8), np.asarray(y, dtype=np.float64)
    if samples is not None and samples < len(y):
        rows = np.sort(np.random.default_rng(seed).choice(len(y), samples, replace=False))
        states, y = states[rows], y[rows] - y[rows].mean()
    st = torch.as_tensor(states, device=device)
    yy = torch.as_tensor(y, device=device)
    n, l = st.shape
    inp = _inputs(st, yy)
    best_s = torch.zeros(0, dtype=torch.float64, device=device)
    best_i = torch.zeros((0, 3), dtype=torch.int64, device=device)
    nb = -(-l // block) if l else 0
    pairs = [(j, k) for j in range(nb) for k in range(j, nb)]
    it = pairs
    if progress:
        from tqdm import tqdm

        it = tqdm(pairs, desc="scan order 3 contrast screen", unit="tile")
    for j, k in it:
        b = slice(j * block, min((j + 1) * block, l))
        c = slice(k * block, min((k + 1) * block, l))
        for a0 in range(0, b.stop - 1, chunk):
            a = slice(a0, min(a0 + chunk, b.stop - 1))
            sc = _tile_scores(inp, a, b, c, max_r2) / n
            top = torch.topk(sc.reshape(-1), min(pool, sc.numel()))
            ok = torch.isfinite(top.values)
            flat = top.indices[ok]
            na, nbb, ncc = sc.shape
            idx = torch.stack(
                [flat // (nbb * ncc) + a.start, flat // ncc % nbb + b.start, flat % ncc + c.start],
                1,
            )  # fmt: skip
            best_s = torch.cat([best_s, top.values[ok].double()])
            best_i = torch.cat([best_i, idx])
            if len(best_s) > pool:
                keep = torch.topk(best_s, pool).indices
                best_s, best_i = best_s[keep], best_i[keep]
    s, i = best_s.cpu().numpy(), best_i.cpu().numpy()
    order = np.lexsort((i[:, 2], i[:, 1], i[:, 0], -s))
    return ContrastHits(idx=i[order].reshape(-1, 3), score=s[order])


def naive_contrast_scores(states: np.ndarray, y: np.ndarray, triples: np.ndarray) -> np.ndarray:
    """Reference for tests: the scores of ``triples`` (k, 3), one explicit sum per triple."""
    phi = locus_contrasts(torch.as_tensor(states), torch.float64).numpy()
    n = states.shape[0]
    yw = y / np.sqrt(np.mean(y * y))
    out = np.zeros(len(triples))
    for t, (a, b, c) in enumerate(np.asarray(triples).tolist()):
        for p in range(2):
            for q in range(2):
                for r in range(2):
                    fa, fb, fc = phi[a, p], phi[b, q], phi[c, r]
                    u = fa * fb * fc - fa * np.mean(fb * fc) - fb * np.mean(fa * fc)
                    u = u - fc * np.mean(fa * fb)
                    m = np.mean((fa * fb * fc) ** 2)
                    if m * m < MIN_SUPPORT * np.mean((fa * fb * fc) ** 4):
                        continue  # too few effective samples (see _tile_scores)
                    out[t] += (u @ yw) ** 2 / max(m, 1e-6) / n
    return out


def exact_fast_f(
    states: np.ndarray, y: np.ndarray, idx: np.ndarray, chunk: int = 256
) -> np.ndarray:
    """shape (k,): the 8-df F of the exhaustive screen (:func:`genoattn.stats.fit3.genotype_fast`
    on y, no covariates) for the triples idx (k, 3), from their exact cell sums in float64."""
    st = torch.as_tensor(np.asarray(states, dtype=np.int8))
    y = np.asarray(y, dtype=np.float64)
    w = torch.as_tensor(np.column_stack([np.ones(len(y)), y, y * y]))
    out = []
    for s in range(0, len(idx), chunk):
        cells = triple_cells(st, w, torch.as_tensor(idx[s : s + chunk]))  # (t, 27, 3)
        out.append(genotype_fast(cells[..., 0], cells[..., 1], cells[..., 2].sum(-1)).F)
    return torch.cat(out).numpy() if out else np.zeros(0)

"""Exhaustive 3-way interaction scan: tiles of locus triples, screened, then rescored exactly.

Axis legend: n samples, l loci, c covariates, t triples.

1. :func:`prepare_triples` puts the int8 genotype classes (n, l) and the weights on a device;
2. :func:`triple_tiles` cuts the triples a < b < c into tiles of three locus blocks; a tile is a
   pure function of (prepared inputs, tile), so tiles can run in a loop, on a GPU, as shards or
   as Dask tasks and merge to the same table;
3. :func:`scan_triple_tile` returns the screening statistics of every triple of one tile (fast
   route of :mod:`genoattn.stats.fit3`: y residualised on the covariates);
4. :func:`exhaustive_triples` keeps the best ``pool`` triples over all tiles (screen) and
   recomputes them with :func:`rescore` (exact route, covariates in both models), ranked by P;
   :func:`scan_triples` runs it on a cohort and returns the ranked table.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl
import torch

from genoattn.contract import MISSING, Dataset
from genoattn.errors import GenoattnError
from genoattn.stats.cells3 import tile_cells_complete, tile_cells_onehot, triple_cells
from genoattn.stats.fit3 import exact_stats, genotype_fast, product_fast
from genoattn.stats.teststats import TestStats, stats_type

TESTS = ("product", "genotype")


@dataclass(frozen=True)
class Prepared3:
    """Scan inputs on one device.

    Attributes:
        states: shape (n, l), int8 genotype classes 0, 1, 2 or MISSING (-1).
        missing: shape (l,), bool (numpy), locus has a missing call.
        w_fast: shape (n, 3), [1, y_r, y_r^2] in the GEMM dtype, y_r = y residualised on
            [1, covariates].
        w_full: shape (n, m), float64, [1, y, y^2, z, z y, z_j z_k (j <= k)] (y centred,
            covariates standardised) for the exact route.
        c: number of covariate columns; cov_rank: rank of the covariates after centring.
        min_df2: lower bound of the screening df2 of any triple (for the pruning bound).
    """

    states: torch.Tensor
    missing: np.ndarray
    w_fast: torch.Tensor
    w_full: torch.Tensor
    c: int
    cov_rank: int
    min_df2: float

    @property
    def n_loci(self) -> int:
        return self.states.shape[1]


def prepare_triples(
    states: np.ndarray,
    y: np.ndarray,
    covariates: np.ndarray | None = None,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
) -> Prepared3:
    """Build the scan's tensors.

    Args:
        states: shape (n, l), int8 classes 0, 1, 2 (ALT dosage for the product test), MISSING.
        y: shape (n,) trait; covariates: shape (n, c) or None.
        dtype: dtype of the blocked products (float32: counts exact below 2^24 samples, sums of
            y to single precision; float64 for reference checks).
    """
    st = np.ascontiguousarray(states, dtype=np.int8)
    n = st.shape[0]
    y = np.asarray(y, dtype=np.float64)
    y = y - y.mean() if n else y
    z = np.zeros((n, 0)) if covariates is None else np.asarray(covariates, dtype=np.float64)
    if z.shape[1]:
        sd = z.std(axis=0)
        z = (z - z.mean(axis=0)) / np.where(sd > 0, sd, 1.0)
    c = z.shape[1]
    u, s, _ = np.linalg.svd(np.column_stack([np.ones(n), z]), full_matrices=False)
    q = u[:, s > 1e-9 * s.max()] if n else u
    y_r = y - q @ (q.T @ y)
    cols = [np.ones(n), y, y * y, *z.T, *(z * y[:, None]).T]
    cols += [z[:, j] * z[:, k] for j in range(c) for k in range(j, c)]
    return Prepared3(
        states=torch.as_tensor(st, device=device),
        missing=(st == MISSING).any(0),
        w_fast=torch.as_tensor(
            np.column_stack([np.ones(n), y_r, y_r * y_r]), dtype=dtype, device=device
        ),  # fmt: skip
        w_full=torch.as_tensor(np.column_stack(cols), dtype=torch.float64, device=device),
        c=c,
        cov_rank=int(q.shape[1]) - 1,
        min_df2=float(n - np.sort((st == MISSING).sum(0))[::-1][:3].sum() - 27 - q.shape[1] + 1),
    )


def triple_tiles(n_loci: int, block: int) -> np.ndarray:
    """shape (T, 3), int64: block indices (i <= j <= k) of the tiles covering all a < b < c.

    Tile (i, j, k) holds loci [i*block, (i+1)*block) x [j*block, ...) x [k*block, ...).
    """
    nb = -(-n_loci // block) if n_loci else 0
    tiles = [(i, j, k) for i in range(nb) for j in range(i, nb) for k in range(j, nb)]
    return np.array(tiles, dtype=np.int64).reshape(-1, 3)


def _blocks(n_loci: int, block: int, tile) -> tuple[slice, slice, slice]:
    return tuple(slice(int(t) * block, min((int(t) + 1) * block, n_loci)) for t in tile)


@dataclass(frozen=True)
class TripleTile:
    """Screening statistics of the triples of one tile, on the prepared device.

    Attributes:
        idx: shape (t, 3), int64 scan locus indices a < b < c.
        stats: the test's record (each field (t,), float64); None when the tile has no triple.
    """

    idx: torch.Tensor
    stats: TestStats | None


def scan_triple_tile(p: Prepared3, tile, test: str = "genotype", block: int = 64) -> TripleTile:
    """Screening statistics of every triple a < b < c of one tile."""
    a, b, c = _blocks(p.n_loci, block, tile)
    ia = torch.arange(a.start, a.stop, device=p.states.device)
    ib = torch.arange(b.start, b.stop, device=p.states.device)
    ic = torch.arange(c.start, c.stop, device=p.states.device)
    keep = (ia[:, None, None] < ib[None, :, None]) & (ib[None, :, None] < ic[None, None, :])
    if not bool(keep.any()):
        return TripleTile(torch.zeros((0, 3), dtype=torch.int64, device=ia.device), None)
    # off-diagonal tiles (every triple kept) skip the boolean gather: a view, not a copy
    sel = (lambda x: x.flatten(2)) if bool(keep.all()) else (lambda x: x[..., keep])
    if p.missing[a].any() or p.missing[b].any() or p.missing[c].any():
        cells = sel(tile_cells_onehot(p.states, p.w_fast, a, b, c))  # (3, 27, t)
        yy = cells[2].sum(0)
    else:
        cells = sel(tile_cells_complete(p.states, p.w_fast[:, :2], a, b, c))  # (2, 27, t)
        yy = torch.full_like(cells[0, 0], float(p.w_fast[:, 2].double().sum()))
    fn = product_fast if test == "product" else genotype_fast
    stats = fn(cells[0].T, cells[1].T, yy, p.cov_rank)
    grid = torch.meshgrid(ia, ib, ic, indexing="ij")
    return TripleTile(torch.stack([g[keep] for g in grid], 1), stats)


def rescore(p: Prepared3, idx: np.ndarray, test: str, chunk: int = 256) -> TestStats:
    """Exact statistics (covariates in both models) of the triples idx (t, 3), scan indices,
    as a numpy record; its ``columns()`` are the pair scan's (n, BETA_INT SE STAT P or
    F DF1 DF2 P)."""
    parts = []
    for s in range(0, len(idx), chunk):
        tri = torch.as_tensor(idx[s : s + chunk], device=p.states.device)
        parts.append(exact_stats(triple_cells(p.states, p.w_full, tri), p.c, test).numpy())
    return stats_type(test).concat(parts)


def _order(cols: dict[str, np.ndarray], test: str) -> np.ndarray:
    """Row order: P ascending, ties (P underflowing to 0) by statistic descending."""
    stat = cols["STAT"] if test == "product" else cols["F"]
    return np.lexsort((-np.nan_to_num(stat, nan=-np.inf), np.nan_to_num(cols["P"], nan=2.0)))


def _bound(test: str, worst_p: float, df2: float) -> float:
    """Smallest statistic (STAT or F) that can reach P <= worst_p (F: for any df1 <= 8)."""
    from scipy import special

    if test == "product":
        return float(special.chdtri(1, worst_p))
    return float(special.fdtri(8, max(df2, 1.0), 1.0 - worst_p)) if worst_p < 1 else 0.0


def screen_all(
    p: Prepared3,
    test: str = "genotype",
    pool: int = 2000,
    block: int = 64,
    tiles: np.ndarray | None = None,
    progress: bool = False,
) -> dict[str, np.ndarray]:
    """Screening statistics of the best ``pool`` triples over ``tiles`` (all by default).

    Returns: idx (t, 3) scan indices and the test record's ``columns()``, best first.
    """
    tiles = triple_tiles(p.n_loci, block) if tiles is None else tiles
    it = tiles
    if progress:
        from tqdm import tqdm

        it = tqdm(tiles, desc=f"scan order 3 {test}", unit="tile")
    best: dict[str, np.ndarray] | None = None
    thresh = 0.0
    for tile in it:
        out = scan_triple_tile(p, tile, test, block)
        if out.stats is None:
            continue
        sel = torch.nan_to_num(out.stats.stat(), nan=-1.0) >= thresh
        cols = {
            "idx": out.idx[sel].cpu().numpy(),
            **out.stats.map(lambda v, m=sel: v[m]).numpy().columns(),
        }
        if best is not None:
            cols = {k: np.concatenate([best[k], cols[k]]) for k in cols}
        order = _order(cols, test)[:pool]
        best = {k: v[order] for k, v in cols.items()}
        if len(best["P"]) >= pool:
            thresh = _bound(test, float(best["P"][-1]), p.min_df2)
    if best is None:
        best = {"idx": np.zeros((0, 3), np.int64), **stats_type(test).empty().columns()}
    return best


def exhaustive_triples(
    p: Prepared3,
    test: str = "genotype",
    top: int = 1000,
    pool: int | None = None,
    block: int = 64,
    progress: bool = False,
    log: Callable = print,
) -> dict[str, np.ndarray]:
    """All triples: screen, keep the best ``pool`` (default max(4 top, 1000)), rescore exactly,
    rank by exact P and keep ``top``. Returns idx (top, 3) scan indices and the columns."""
    pool = max(4 * top, 1000) if pool is None else max(pool, top)
    scr = screen_all(p, test, pool, block, progress=progress)
    exact = rescore(p, scr["idx"], test).columns()
    cols = {"idx": scr["idx"], **exact}
    keep = ~np.isnan(cols["P"])
    cols = {k: v[keep] for k, v in cols.items()}
    order = _order(cols, test)[:top]
    return {k: v[order] for k, v in cols.items()}


def _contrast_triples(p: Prepared3, st: np.ndarray, test: str, top: int, progress: bool):
    """``candidates="contrast"``: contrast screen on y residualised on the covariates, exact
    rescoring of its pool, ranked by exact P (the columns of :func:`exhaustive_triples`)."""
    from genoattn.stats.contrast3 import CONTRAST_SAMPLES, contrast_pool, contrast_screen

    y_r = p.w_fast[:, 1].double().cpu().numpy()
    l = st.shape[1]
    pool = contrast_pool(l * (l - 1) * (l - 2) // 6, top)
    hits = contrast_screen(st, y_r, pool, default_block(CONTRAST_SAMPLES),
                           max_r2=0.5, samples=CONTRAST_SAMPLES, progress=progress)  # fmt: skip
    cols = {"idx": hits.idx, **rescore(p, hits.idx, test).columns()}
    keep = ~np.isnan(cols["P"])
    cols = {k: v[keep] for k, v in cols.items()}
    order = _order(cols, test)[:top]
    return {k: v[order] for k, v in cols.items()}


def default_block(n: int) -> int:
    """Block size: the (4 b^2, n) float32 right factor of a tile stays below ~256 MB."""
    return int(min(64, max(8, (256e6 / (16 * max(n, 1))) ** 0.5)))


def scan_triples(
    dataset: Dataset,
    test: str = "genotype",
    top: int = 1000,
    rows=None,
    block: int | None = None,
    device: str | torch.device | None = None,
    progress: bool = False,
    log: Callable = print,
    candidates: str = "exhaustive",
) -> pl.DataFrame:
    """Test every triple of biallelic loci for a 3-way interaction; keep the best ``top``.

    ``candidates``: ``exhaustive`` screens every triple with the fast 8-df / 1-df test;
    ``contrast`` screens every triple with the cheaper contrast score
    (:func:`genoattn.stats.contrast3.contrast_screen`: seeded subset of ``CONTRAST_SAMPLES``
    samples, triples with two loci at r^2 > 0.5 skipped) and rescores its best
    (:func:`genoattn.stats.contrast3.contrast_pool`). Either way the reported statistics are
    the exact ones (:func:`rescore`).

    Returns:
        polars frame sorted by P: idx_a < idx_b < idx_c (cohort locus indices), n (samples
        called at all three loci), then for ``product`` BETA_INT, SE, STAT, P and for
        ``genotype`` F, DF1, DF2, P (the pair scan's columns; see :mod:`genoattn.stats.fit3`).
    """
    if test not in TESTS:
        raise GenoattnError(f"unknown interaction test {test!r}; expected one of {list(TESTS)}")
    if top < 1:
        raise GenoattnError(f"scan: top must be at least 1, got {top}")
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    cohort = dataset.cohort
    rows = np.arange(cohort.n_samples) if rows is None else np.asarray(rows)
    bial = cohort.is_biallelic()
    if not bial.all():
        log(f"scan: skipping {int((~bial).sum())} loci that are not biallelic genotypes")
    loci = np.flatnonzero(bial)
    st = np.asarray(cohort.states)[np.ix_(rows, loci)]
    p = prepare_triples(st, dataset.y[rows], dataset.covariates[rows], device)
    block = block or default_block(len(rows))
    n_tri = len(loci) * (len(loci) - 1) * (len(loci) - 2) // 6
    log(f"scan: {n_tri:,} triples of {len(loci)} loci x {len(rows)} samples, blocks of {block}")
    if candidates == "contrast":
        res = _contrast_triples(p, st, test, top, progress)
    elif candidates == "exhaustive":
        res = exhaustive_triples(p, test, top, block=block, progress=progress, log=log)
    else:
        raise GenoattnError(f"unknown --candidates {candidates!r}; expected exhaustive|contrast")
    idx = loci[res.pop("idx")].reshape(-1, 3)
    out = pl.DataFrame({"idx_a": idx[:, 0], "idx_b": idx[:, 1], "idx_c": idx[:, 2], **res})
    return out.with_columns(pl.col("idx_a", "idx_b", "idx_c", "n").cast(pl.Int64))

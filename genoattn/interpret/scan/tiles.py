"""Deterministic tiles of the all-pairs scan and the merge of their results.

Axis legend: l scanned loci, a / b loci of a tile's left / right block.

The pairs (i < j) of the l scanned loci are cut into tiles (left block x right block) listed in a
fixed order (:class:`TileGrid`). A tile is a pure function of (prepared inputs, tile index)
returning its kept rows (:func:`run_tile`); rows are ranked by a *total* order (P ascending,
statistic descending, then idx_a, idx_b), so keeping the best ``top`` of any grouping of tiles
and merging the groups (:func:`merge`) gives the same rows as one pass over all tiles: a loop,
shards written by several processes, or Dask tasks.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import torch

from genoattn.interpret.scan.fast import product_fast_block
from genoattn.interpret.scan.inputs import ScanInputs
from genoattn.interpret.scan.kernels import LOGISTIC, block_cells, cell_stats
from genoattn.interpret.scan.logistic import logistic_from_cells
from genoattn.stats.teststats import TestStats, stats_type
from genoattn.stats.topk import best_first

INDEX = ("idx_a", "idx_b")


@dataclass(frozen=True)
class TileGrid:
    """Tiles (left block start i, right block start j >= i) over l loci, row-major.

    Attributes:
        n_loci: number of scanned loci l.
        ba, bb: left and right block sizes (loci).
    """

    n_loci: int
    ba: int
    bb: int

    def tiles(self) -> list[tuple[int, int]]:
        l = self.n_loci
        return [(i, j) for i in range(0, l, self.ba) for j in range(i, l, self.bb)]

    def slices(self, t: int) -> tuple[slice, slice]:
        i, j = self.tiles()[t]
        return slice(i, min(i + self.ba, self.n_loci)), slice(j, min(j + self.bb, self.n_loci))

    def shard(self, k: int, n: int) -> list[int]:
        """Tile indices of shard ``k`` of ``n`` (1-based): every n-th tile, balancing the load."""
        return list(range(k - 1, len(self.tiles()), n))


@dataclass(frozen=True)
class ScanSpec:
    """What to compute and keep: the test, the top-k / P threshold, the distance rule, tiles."""

    test: str
    top: int | None
    p_threshold: float | None
    min_distance_bp: int | None
    grid: TileGrid
    report: int | None = None  # rows reported after clumping (None: top); top keeps a surplus


@dataclass
class Partial:
    """Kept rows of some tiles (best first) and how many tests those tiles performed.

    Attributes:
        rows: column name -> shape (k,) array: idx_a, idx_b (cohort locus indices), n, stats, P.
        n_tests: pairs with a defined statistic (the multiplicity of the tested tiles).
        n_pairs: pairs considered (after the distance rule).
        tiles: indices of the tiles covered.
    """

    rows: dict[str, np.ndarray]
    n_tests: int
    n_pairs: int
    tiles: list[int]


def empty(test: str) -> Partial:
    rows = {k: np.zeros(0, np.int64) for k in INDEX} | columns(test, stats_type(test).empty())
    return Partial(rows, 0, 0, [])


def block_sizes(test: str, any_missing: bool, m: int, block: int | None) -> tuple[int, int]:
    """Tile shape: wide right panels for the fast product route, square ones for cell sums."""
    if block:
        return block, block
    if test == "product" and not any_missing:
        return 128, 2048  # efficient GEMMs, little waste on the diagonal
    b = 256 if test == LOGISTIC else max(8, int(256 * (3 / m) ** 0.5))
    return b, b


def _rank_order(rows: dict[str, np.ndarray], test: str) -> np.ndarray:
    """Total order: P ascending, statistic descending (P underflowing to 0), then the indices
    (the pair order of :func:`genoattn.stats.topk.best_first`)."""
    stat = rows["F"] if test == "genotype" else rows["STAT"]
    return best_first(np.stack([rows["idx_a"], rows["idx_b"]], axis=1), -rows["P"], stat)


def merge(parts: Iterable[Partial], spec: ScanSpec) -> Partial:
    """Merge partial results into one: the best ``top`` rows of all of them, counts added."""
    parts = list(parts)
    if not parts:
        return empty(spec.test)
    rows = {k: np.concatenate([p.rows[k] for p in parts]) for k in parts[0].rows}
    order = _rank_order(rows, spec.test)[: spec.top]
    return Partial(
        {k: v[order] for k, v in rows.items()},
        sum(p.n_tests for p in parts),
        sum(p.n_pairs for p in parts),
        sorted(t for p in parts for t in p.tiles),
    )


def columns(test: str, stats: TestStats) -> dict[str, np.ndarray]:
    """A numpy record's output columns (OR_INT first for the logistic test)."""
    return stats.columns(odds_ratio=test == LOGISTIC)


def _tensor(x: np.ndarray, device) -> torch.Tensor:
    return torch.as_tensor(x, device=device)


def _raw_stats(
    inp: ScanInputs, spec: ScanSpec, a: slice, b: slice, st_a, st_b, device
) -> TestStats:
    """Statistics (na, nb) of the tile's pairs as a numpy float64 record."""
    t = _tensor
    if spec.test == "product" and not (inp.missing[a].any() or inp.missing[b].any()):
        y = (inp.q, inp.y_res, inp.y_digits)
        q, y_res, digits = (t(v, device) for v in y)
        mom = t(inp.moments, device)
        res = product_fast_block(
            t(st_a, device), t(st_b, device), mom[:, a], mom[:, b], q, y_res, digits, inp.y_scale
        )
    elif spec.test == LOGISTIC:
        cells = block_cells(t(st_a, device), t(st_b, device), t(inp.weights[:, :2], device))
        res = logistic_from_cells(cells, inp.y_mean)
    else:
        w = t(inp.weights, device)
        res = cell_stats(block_cells(t(st_a, device), t(st_b, device), w), spec.test, inp.c)
    return res.numpy()


def run_tile(
    inp: ScanInputs, spec: ScanSpec, t: int, device="cpu", floor: float | None = None, cache=None
) -> Partial:
    """The kept rows of tile ``t`` (best first; at most ``top``, P <= threshold).

    ``floor``: the P of the current ``top``-th best row elsewhere; rows above it cannot enter a
    merged top and are dropped early (ties are kept, so the merge is unaffected).
    ``cache``: a dict reused across calls to keep the last left block's states.
    """
    a, b = spec.grid.slices(t)
    cache = {} if cache is None else cache
    if cache.get("a") != (a.start, a.stop):
        cache["a"], cache["st_a"] = (a.start, a.stop), inp.block(a)
    raw = _raw_stats(inp, spec, a, b, cache["st_a"], inp.block(b), device)
    ia, ib = np.meshgrid(np.arange(a.start, a.stop), np.arange(b.start, b.stop), indexing="ij")
    keep = ia < ib
    if spec.min_distance_bp:
        near = inp.chrom[ia] == inp.chrom[ib]
        near &= np.abs(inp.pos[ia] - inp.pos[ib]) < spec.min_distance_bp
        keep &= ~near
    cols = columns(spec.test, raw.map(lambda v: v[keep]))
    sel = ~np.isnan(cols["P"])
    n_tests = int(sel.sum())
    if spec.p_threshold is not None:
        sel &= cols["P"] <= spec.p_threshold
    if floor is not None:
        sel &= cols["P"] <= floor
    rows = {"idx_a": inp.loci[ia[keep]][sel], "idx_b": inp.loci[ib[keep]][sel]}
    rows |= {k: v[sel] for k, v in cols.items()}
    part = Partial(rows, n_tests, int(keep.sum()), [t])
    return merge([part], spec)


def run_tiles(
    inp: ScanInputs,
    spec: ScanSpec,
    tiles: Iterable[int],
    device="cpu",
    progress: bool = False,
    threads: int | None = None,
) -> Partial:
    """Run tiles in this process, merging as they finish in tile order (memory: ``threads``
    tiles + ``top`` rows).

    On CPU the tiles run on ``threads`` threads (default: torch's intra-op thread count), each
    single-threaded inside: the element-wise work of a tile is too fine-grained to share.
    """
    tiles = list(tiles)
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(tiles), desc=f"scan {spec.test}", unit="tile")
    threads = threads or torch.get_num_threads()
    best = empty(spec.test)
    if str(device) != "cpu" or threads <= 1 or len(tiles) <= 1:
        cache: dict = {}
        for t in tiles:
            full = spec.top is not None and len(best.rows["P"]) >= spec.top
            floor = best.rows["P"][spec.top - 1] if full else None
            best = merge([best, run_tile(inp, spec, t, device, floor, cache)], spec)
            if bar is not None:
                bar.update()
    else:
        local = threading.local()

        def one(t: int) -> Partial:
            if not hasattr(local, "cache"):
                local.cache = {}
            return run_tile(inp, spec, t, device, None, local.cache)

        before = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            with ThreadPoolExecutor(threads) as pool:
                for part in pool.map(one, tiles):
                    best = merge([best, part], spec)
                    if bar is not None:
                        bar.update()
        finally:
            torch.set_num_threads(before)
    if bar is not None:
        bar.close()
    best.tiles = sorted(tiles)
    return best


def run_group(inp: ScanInputs, spec: ScanSpec, tiles: list[int], threads: int = 1) -> Partial:
    """One task of a distributed run (a group of tiles, CPU), e.g. on a Dask worker process.

    The worker's intra-op threads are set to ``threads`` (one per Dask thread): fine-grained
    element-wise work on more threads than cores slows down many times on a shared machine.
    """
    torch.set_num_threads(threads)
    return run_tiles(inp, spec, tiles, threads=threads)

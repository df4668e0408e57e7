"""The all-pairs scan: tiles run in this process, as one shard of many, or as Dask tasks.

Two tests per pair (a, b) of biallelic loci with ALT dosages g in {0, 1, 2}:

* ``product``: y ~ 1 + g_a + g_b + g_a g_b (+ covariates). BETA_INT is the coefficient of
  g_a g_b, SE = sqrt(s^2 [(X'X)^-1]_int) with s^2 = RSS / (n - rank), STAT = (BETA_INT / SE)^2
  and P its chi-square (1 df) tail: exactly PLINK 1.9 ``--epistasis`` for a quantitative trait
  (checked against plink1.9 itself; PLINK has no covariates, then rank = 4).
  For a case/control trait (no covariates) the product test is logistic, as PLINK's
  (``logistic.py``: OR_INT, BETA_INT = log OR, SE, Wald STAT, P).
* ``genotype``: y ~ cell(g_a, g_b) (9 cells) against y ~ class(g_a) + class(g_b), both with
  covariates; F = ((RSS_add - RSS_full) / df1) / (RSS_full / df2) with df1 = rank_full - rank_add
  (4 when no cell is empty) and df2 = n - rank_full.

Each pair sees exactly the samples called at both of its loci (as PLINK drops them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl
import torch

from genoattn.contract import Dataset
from genoattn.errors import GenoattnError
from genoattn.interpret.scan.inputs import ScanInputs, prepare
from genoattn.interpret.scan.kernels import LOGISTIC, cell_stats, check_test, pair_cells
from genoattn.interpret.scan.tiles import (
    Partial,
    ScanSpec,
    TileGrid,
    block_sizes,
    columns,
    run_tiles,
)
from genoattn.stats.teststats import stats_type


@dataclass(frozen=True)
class ScanRun:
    """A scan's kept rows and its record.

    Attributes:
        table: polars frame sorted best first: idx_a < idx_b (cohort locus indices), n, then the
            test's columns (product: BETA_INT, SE, STAT, P; genotype: F, DF1, DF2, P).
        n_tests: pairs with a defined statistic over the tiles run (for multiplicity).
        n_pairs: pairs considered (after the distance rule).
        spec: the test, top-k, threshold, distance rule and tile grid.
        digest: hash of the prepared inputs (equal across shards of one scan).
        tiles: indices of the tiles run.
    """

    table: pl.DataFrame
    n_tests: int
    n_pairs: int
    spec: ScanSpec
    digest: str
    tiles: list[int]


def frame(rows: dict[str, np.ndarray]) -> pl.DataFrame:
    out = pl.DataFrame(rows)
    return out.with_columns(pl.col("idx_a", "idx_b", "n").cast(pl.Int64))


def to_run(part: Partial, spec: ScanSpec, digest: str) -> ScanRun:
    return ScanRun(frame(part.rows), part.n_tests, part.n_pairs, spec, digest, part.tiles)


def make_spec(
    inp: ScanInputs, test: str, top: int | None, p_threshold: float | None,
    min_distance_bp: int | None, block: int | None, report: int | None = None,
) -> ScanSpec:  # fmt: skip
    test = test if test == LOGISTIC else check_test(test)
    if top is not None and top < 1:
        raise GenoattnError(f"scan: top must be at least 1, got {top}")
    ba, bb = block_sizes(test, bool(inp.missing.any()), inp.weights.shape[1], block)
    grid = TileGrid(inp.n_loci, ba, bb)
    return ScanSpec(test, top, p_threshold, min_distance_bp or None, grid, report)


def run_scan(
    dataset: Dataset,
    test: str = "product",
    top: int | None = 1000,
    p_threshold: float | None = None,
    rows=None,
    min_distance_bp: int | None = None,
    block: int | None = None,
    device: str | torch.device | None = None,
    progress: bool = False,
    log: Callable = print,
    shard: tuple[int, int] | None = None,
    client=None,
    scratch: str | None = None,
    report: int | None = None,
) -> ScanRun:
    """Test every pair of biallelic loci (or the tiles of shard ``(k, n)``) and keep the best.

    All pairs are computed tile by tile (memory O(n + l) plus one tile); only the running best
    rows are kept. Pairs on the same chromosome closer than ``min_distance_bp`` are skipped.
    ``client``: a ``dask.distributed.Client``; the tiles then run as its tasks (CPU), reading
    the genotypes by file (see :func:`~genoattn.interpret.scan.distributed.run_on_dask`, which
    uses ``scratch`` for cohorts held in memory). ``report``: the rows a written table keeps
    after clumping (``top`` then holds a surplus for clumping to absorb; see ``output.surplus``).
    """
    test = check_test(test)
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    inp = prepare(dataset, rows, log)
    if dataset.binary and test == "product":
        if inp.c == 0:
            test = LOGISTIC
            log("scan: case/control trait: logistic product test (OR_INT, Wald STAT, P)")
        else:
            log(
                "scan: case/control trait with covariates: the logistic scan takes no "
                "covariates; product test by the linear model (a linear probability model)"
            )
    spec = make_spec(inp, test, top, p_threshold, min_distance_bp, block, report)
    tiles = list(range(len(spec.grid.tiles())))
    if shard is not None:
        k, n = shard
        if not 1 <= k <= n:
            raise GenoattnError(f"scan: shard must be K/N with 1 <= K <= N, got {k}/{n}")
        tiles = spec.grid.shard(k, n)
    if client is not None:
        from genoattn.interpret.scan.distributed import run_on_dask

        part = run_on_dask(client, inp, spec, tiles, log, scratch)
    else:
        part = run_tiles(inp, spec, tiles, device, progress)
    return to_run(part, spec, inp.digest)


def scan(
    dataset: Dataset,
    test: str = "product",
    top: int | None = 1000,
    p_threshold: float | None = None,
    rows=None,
    min_distance_bp: int | None = None,
    block: int | None = None,
    device: str | torch.device | None = None,
    progress: bool = False,
    log: Callable = print,
) -> pl.DataFrame:
    """Test every pair of biallelic loci; keep the best ``top`` (and/or those with P <= threshold).

    Returns:
        polars frame sorted by P (ties: statistic, then indices): idx_a < idx_b (cohort locus
        indices), n (samples used), then for ``product`` BETA_INT, SE, STAT, P (PLINK 1.9
        --epistasis) and for ``genotype`` F, DF1, DF2, P. See :func:`run_scan`.
    """
    kw = dict(rows=rows, min_distance_bp=min_distance_bp, block=block, device=device)
    return run_scan(dataset, test, top, p_threshold, progress=progress, log=log, **kw).table


def scan_pairs(
    dataset: Dataset,
    pairs: np.ndarray,
    test: str = "product",
    rows=None,
    device: str | torch.device = "cpu",
    log: Callable = print,
) -> pl.DataFrame:
    """Scan statistics of the given pairs only, in the given order.

    Args:
        pairs: shape (k, 2), int, cohort locus indices (biallelic).
        rows: sample indices to use (all by default), e.g. held-out samples.

    Returns:
        polars frame, one row per pair: idx_a, idx_b, n and the test's columns (see :func:`scan`).
    """
    test = check_test(test)
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    inp = prepare(dataset, rows, log=lambda *_: None)
    where = np.full(dataset.cohort.n_loci, -1)
    where[inp.loci] = np.arange(len(inp.loci))
    sa, sb = where[pairs[:, 0]], where[pairs[:, 1]]
    if (sa < 0).any() or (sb < 0).any():
        raise GenoattnError("scan: pairs must name biallelic genotype loci")
    w = torch.as_tensor(inp.weights, device=device)
    parts = []
    for s in range(0, len(pairs), 4096):
        st_a = torch.as_tensor(inp.block(sa[s : s + 4096]), device=device)
        st_b = torch.as_tensor(inp.block(sb[s : s + 4096]), device=device)
        parts.append(cell_stats(pair_cells(st_a, st_b, w), test, inp.c).numpy())
    raw = stats_type(test).concat(parts)
    return frame({"idx_a": pairs[:, 0], "idx_b": pairs[:, 1], **columns(test, raw)})

"""Scan tiles as Dask tasks: a LocalCluster of worker processes, or an existing scheduler.

The prepared inputs are scattered once (O(n + l) numbers and the path of the state matrix);
each worker memory-maps the genotypes from that ``.npy`` file (the encoded cohort cache, or a
scratch copy for cohorts held in memory) and runs groups of tiles. Results are the groups' best
rows, merged under the scan's total order: the same table as one process.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from genoattn.errors import GenoattnError
from genoattn.interpret.scan.inputs import ScanInputs
from genoattn.interpret.scan.tiles import Partial, ScanSpec, merge, run_group

MISSING_DASK = "--workers/--scheduler need dask.distributed: pip install 'genoattn[dask]'"


@contextmanager
def dask_client(
    workers: int | None = None, scheduler: str | None = None, threads_per_worker: int = 1
) -> Iterator:
    """A ``dask.distributed.Client`` to ``scheduler``, else to a LocalCluster of processes."""
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise GenoattnError(MISSING_DASK) from None
    if scheduler:
        try:
            client = Client(scheduler, timeout="30s")
        except (OSError, TimeoutError) as e:
            raise GenoattnError(f"cannot reach the Dask scheduler ({e})", scheduler) from None
        with client:
            yield client
        return
    cluster = LocalCluster(
        n_workers=workers or 1, threads_per_worker=threads_per_worker, processes=True,
        dashboard_address=None, silence_logs=40,
    )  # fmt: skip
    with cluster, Client(cluster) as client:
        yield client


def groups(tiles: list[int], n: int) -> list[list[int]]:
    """``n`` round-robin groups of tiles (similar work per group), empty ones dropped."""
    return [g for g in (tiles[k::n] for k in range(n)) if g]


def run_on_dask(
    client, inp: ScanInputs, spec: ScanSpec, tiles: list[int], log: Callable = print,
    scratch: str | Path | None = None,
) -> Partial:  # fmt: skip
    """Run ``tiles`` as tasks of ``client`` (a few groups per worker) and merge the results.

    Genotypes held in memory are first written to an ``.npy`` file in ``scratch`` (default: the
    system's temporary directory; give a shared folder when the workers are on other machines).
    """
    tmp = None
    if inp.states_file is None:
        tmp = Path(tempfile.mkdtemp(prefix="genoattn-scan-", dir=scratch))
        np.save(tmp / "states.npy", np.asarray(inp.states), allow_pickle=False)
        inp = inp.with_file(str(tmp / "states.npy"))
    try:
        n_workers = max(1, len(client.scheduler_info().get("workers", {})))
        jobs = groups(tiles, 4 * n_workers)
        log(f"scan: {len(tiles)} tiles in {len(jobs)} Dask tasks on {n_workers} workers")
        shared = client.scatter(inp, broadcast=True)
        futures = [client.submit(run_group, shared, spec, g, 1, pure=False) for g in jobs]
        return merge(client.gather(futures), spec)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)

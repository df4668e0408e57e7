"""The scan's tiles as Dask tasks on a LocalCluster of 2 worker processes: the same table."""

from __future__ import annotations

import pickle
import sys

import numpy as np
import pytest
from test_scan import make_dataset

from genoattn.errors import GenoattnError
from genoattn.interpret.scan import run_scan
from genoattn.interpret.scan.distributed import dask_client
from genoattn.interpret.scan.inputs import prepare

pytest.importorskip("dask.distributed")


def test_scan_inputs__travel_by_file_never_with_genotypes(tmp_path):
    ds = make_dataset(n=300, l=50, seed=3)
    inp = prepare(ds, log=lambda *_: None)
    with pytest.raises(RuntimeError, match="travel by file"):
        pickle.dumps(inp)
    np.save(tmp_path / "g.npy", ds.cohort.states)
    small = pickle.dumps(inp.with_file(str(tmp_path / "g.npy")))
    back = pickle.loads(small)
    assert back.states is None and np.array_equal(back.block(slice(0, 50)), ds.cohort.states)
    big = make_dataset(n=300, l=400, seed=3)
    np.save(tmp_path / "b.npy", big.cohort.states)
    big_inp = prepare(big, log=lambda *_: None).with_file(str(tmp_path / "b.npy"))
    # O(n + l) bytes: 8x the loci add far less than their 300 x 350 genotype bytes
    assert len(pickle.dumps(big_inp)) - len(small) < 300 * 350 / 4


@pytest.mark.slow
# a loaded machine can make the cluster's start-up leave a socket to the garbage collector
@pytest.mark.filterwarnings("ignore::ResourceWarning")
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_dask_local_cluster__same_table_as_one_process(tmp_path):
    product = make_dataset(n=240, l=36, c=0, seed=5, planted=(4, 30))
    genotype = make_dataset(n=200, l=30, c=1, missing=0.03, seed=6)
    logs = []
    with dask_client(workers=2) as client:
        assert len(client.scheduler_info()["workers"]) == 2
        for ds, test, kw in ((product, "product", {"top": 40}), (genotype, "genotype", {})):
            kw |= {"block": 6, "log": logs.append}
            one = run_scan(ds, test, **kw)
            dist = run_scan(ds, test, client=client, scratch=str(tmp_path), **kw)
            assert dist.table.equals(one.table) and dist.n_tests == one.n_tests
            assert dist.tiles == one.tiles
    assert any("Dask tasks on 2 workers" in m for m in logs)
    assert list(tmp_path.iterdir()) == []  # the scratch copy of the genotypes is removed


def test_dask_missing__one_clear_line(monkeypatch):
    monkeypatch.setitem(sys.modules, "dask.distributed", None)
    with pytest.raises(GenoattnError, match=r"pip install 'genoattn\[dask\]'"):
        with dask_client(workers=2):
            pass

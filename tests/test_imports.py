"""A default (sparse) fit and an export import no Lightning (and no matplotlib without plots).

Lightning's import costs seconds of start-up; only the sgd route trains with it. The check runs
the real command line on the bundled example in a fresh interpreter and lists sys.modules at exit.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "data" / "example"

SCRIPT = """
import json, sys
from genoattn.cli.app import run
fit = ["fit", "--vcf", "{ex}/cohort.vcf.gz", "--pheno", "{ex}/pheno.tsv",
       "--covar", "{ex}/covar.tsv", "--out", "{out}", "--no-progress"]
codes = [run(fit), run(["export", "{out}", "--out", "{out}/pairs.tsv", "--no-progress"])]
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("lightning", "pytorch_lightning",
               "matplotlib"))
print(json.dumps({{"codes": codes, "heavy": heavy}}))
"""


def test_sparse_fit_and_export__import_no_lightning_or_matplotlib(tmp_path):
    code = SCRIPT.format(ex=EXAMPLE, out=tmp_path / "run")
    env_cmd = [sys.executable, "-c", code]
    done = subprocess.run(env_cmd, capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    last = json.loads(done.stdout.strip().splitlines()[-1])
    assert last["codes"] == [0, 0]
    assert (tmp_path / "run" / "pairs.tsv").is_file()
    assert last["heavy"] == [], last["heavy"][:10]


def test_average_ranks__equal_scipy_rankdata_with_ties():
    import numpy as np
    from scipy.stats import rankdata

    from genoattn.system.metrics import auc_score, average_ranks

    rng = np.random.default_rng(0)
    x = rng.integers(0, 7, 200).astype(np.float64)  # many ties
    assert np.array_equal(average_ranks(x), rankdata(x))
    assert average_ranks(np.zeros(0)).shape == (0,)
    y = rng.random(200) < 0.4
    s = x + y  # the hand-checkable Mann-Whitney form against scipy's ranks
    r = rankdata(s)
    n1, n0 = y.sum(), (~y).sum()
    assert auc_score(y, s) == (r[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0)


VCF_SCRIPT = """
import json, sys
{pre}
from genoattn.io.vcf import read_vcf
c = read_vcf("{ex}/cohort.vcf.gz")
loaded = [m for m in ("dask", "zarr") if m in sys.modules]
import allel, dask, dask.array, zarr  # still importable afterwards
print(json.dumps({{"shape": list(c.states.shape), "loaded": loaded, "states": int(c.states.sum()),
                  "dask_classes": hasattr(allel, "GenotypeDaskArray")}}))
"""


def _read_vcf_fresh(pre: str) -> dict:
    code = VCF_SCRIPT.format(ex=EXAMPLE, pre=pre)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_read_vcf__loads_no_dask_or_zarr_and_leaves_them_importable():
    plain = _read_vcf_fresh("")
    assert plain["loaded"] == [] and plain["dask_classes"] is False
    # with dask already loaded, allel is imported as usual (its Dask classes present) and the
    # cohort read is the same
    with_dask = _read_vcf_fresh("import dask")
    assert with_dask["dask_classes"] is True
    assert with_dask["shape"] == plain["shape"] == [1000, 400]
    assert with_dask["states"] == plain["states"]

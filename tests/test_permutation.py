"""Nothing about the test samples' phenotypes reaches the fit: permuting the trait within the test
rows leaves the fitted model bit-identical (sparse default fit and an sgd fit)."""

from __future__ import annotations

import numpy as np
import pytest
from safetensors.torch import load_file

from genoattn.config import FitConfig, from_dict
from genoattn.contract import Dataset
from genoattn.simulate import SimConfig, simulate
from genoattn.system.fit import fit
from genoattn.system.split import make_split


def _permuted_test_trait(ds: Dataset, cfg: FitConfig, seed: int) -> Dataset:
    test = make_split(ds.cohort.n_samples, cfg.train)["test"]
    y = ds.y.copy()
    y[test] = y[np.random.default_rng(seed).permutation(test)]
    assert not np.array_equal(y, ds.y)
    return Dataset(ds.cohort, y, ds.covariates, ds.trait, ds.binary, ds.covariate_names)


@pytest.mark.parametrize(
    "model, binary",
    [
        ({"kind": "sa"}, False),
        ({"kind": "sa"}, True),
        ({"kind": "sa", "fit": "sgd"}, False),
    ],
)
def test_fit__test_trait_permutation_leaves_the_model_bit_identical(tmp_path, model, binary):
    ds = simulate(SimConfig(n_samples=400, n_loci=40, binary=binary, seed=5)).dataset()
    train = {"progress": False, "accelerator": "cpu", "max_epochs": 8}
    cfg = from_dict(FitConfig, {"model": model, "train": train})
    a = fit(ds, cfg, tmp_path / "a", log=lambda s: None)
    b = fit(_permuted_test_trait(ds, cfg, 1), cfg, tmp_path / "b", log=lambda s: None)
    wa, wb = (
        load_file(str(tmp_path / "a" / "model.safetensors")),
        load_file(str(tmp_path / "b" / "model.safetensors")),
    )
    assert wa.keys() == wb.keys()
    for k in wa:
        assert wa[k].dtype == wb[k].dtype and wa[k].shape == wb[k].shape, k
        assert wa[k].numpy().tobytes() == wb[k].numpy().tobytes(), k
    for split in ("train", "val"):  # identical in-sample metrics; the test ones differ
        assert a[split] == b[split]
    assert a["test"] != b["test"]
    assert a["additive"]["train"] == b["additive"]["train"]  # the baseline too

"""Resume: an interrupted sgd fit continues from RUN.partial/checkpoints/last.ckpt (weights_only
load), maps the saved split by sample ID, refuses other inputs, and ends where an uninterrupted fit
ends (checked with a real SIGKILL of a subprocess)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import polars as pl
import pytest

import genoattn.system.fit as fit_mod
from genoattn.config import FitConfig, from_dict
from genoattn.contract import Dataset
from genoattn.errors import GenoattnError
from genoattn.simulate import SimConfig, simulate

SIM = {"n_samples": 300, "n_loci": 20, "seed": 4, "n_additive": 4}


def _cfg(epochs, kind="additive", **train):
    return from_dict(
        FitConfig,
        {
            "model": {"kind": kind, "fit": "sgd"},
            "train": {
                "progress": False,
                "max_epochs": epochs,
                "patience": 100,
                "lr": 0.01,
                "accelerator": "cpu",
                **train,
            },
        },
    )


def _interrupt(monkeypatch, ds, cfg, run_dir):
    def interrupted(work, run_dir):
        raise KeyboardInterrupt

    monkeypatch.setattr(fit_mod, "finish_run", interrupted)
    with pytest.raises(KeyboardInterrupt):
        fit_mod.fit(ds, cfg, run_dir, baseline=False, log=lambda s: None)
    monkeypatch.undo()


def _reordered(ds: Dataset, order: np.ndarray) -> Dataset:
    cohort = ds.cohort.subset(samples=order)
    return Dataset(
        cohort, ds.y[order], ds.covariates[order], ds.trait, ds.binary, ds.covariate_names
    )


def test_fit__resume_continues_from_the_last_checkpoint(tmp_path, monkeypatch):
    ds = simulate(SimConfig(**SIM)).dataset()
    run_dir = tmp_path / "run"
    _interrupt(monkeypatch, ds, _cfg(2), run_dir)
    partial = tmp_path / "run.partial"
    assert (partial / "checkpoints" / "last.ckpt").is_file()
    assert not run_dir.exists()  # nothing published

    messages = []
    fit_mod.fit(ds, _cfg(4), run_dir, resume=True, baseline=False, log=messages.append)
    assert any("resuming from" in m for m in messages)
    history = pl.read_csv(run_dir / "history.tsv", separator="\t")
    assert history["epoch"].to_list() == [0, 1, 2, 3]  # the epochs before the interruption too
    assert not partial.exists()


def test_fit__resume_maps_the_split_by_sample_id(tmp_path, monkeypatch):
    ds = simulate(SimConfig(**SIM)).dataset()
    run_dir = tmp_path / "run"
    _interrupt(monkeypatch, ds, _cfg(1), run_dir)
    saved = pl.read_csv(tmp_path / "run.partial" / "split.tsv", separator="\t")
    label = dict(zip(saved["IID"].to_list(), saved["split"].to_list(), strict=True))
    order = np.random.default_rng(0).permutation(ds.cohort.n_samples)
    shuffled = _reordered(ds, order)  # same samples, other row order: same fingerprint
    fit_mod.fit(shuffled, _cfg(2), run_dir, resume=True, baseline=False, log=lambda s: None)
    final = pl.read_csv(run_dir / "split.tsv", separator="\t")
    assert final["IID"].to_list() == [str(s) for s in shuffled.cohort.samples]
    assert [label[i] for i in final["IID"].to_list()] == final["split"].to_list()


@pytest.mark.parametrize("change", ["trait", "samples", "config"])
def test_fit__resume_refuses_other_inputs(tmp_path, monkeypatch, change):
    ds = simulate(SimConfig(**SIM)).dataset()
    run_dir = tmp_path / "run"
    _interrupt(monkeypatch, ds, _cfg(1), run_dir)
    cfg = _cfg(2)
    if change == "trait":
        y = ds.y.copy()
        y[0] += 1.0
        ds = Dataset(ds.cohort, y, ds.covariates, ds.trait, ds.binary, ds.covariate_names)
    elif change == "samples":
        ds = _reordered(ds, np.arange(1, ds.cohort.n_samples))
    else:
        cfg.train.lr = 0.02
    with pytest.raises(GenoattnError, match="cannot resume") as e:
        fit_mod.fit(ds, cfg, run_dir, resume=True, baseline=False, log=lambda s: None)
    assert "\n" not in str(e.value)
    assert (tmp_path / "run.partial" / "split.tsv").is_file()  # the partial run is kept


SCRIPT = """
import sys, torch
torch.set_num_threads(1)
import genoattn.system.sgd as sgd
from genoattn.config import FitConfig, from_dict
from genoattn.simulate import SimConfig, simulate
from genoattn.system.fit import fit

KILL_AFTER = int(sys.argv[2])
save = sgd.AtomicCheckpointIO.save_checkpoint

def save_then_wait(self, checkpoint, path, storage_options=None):
    save(self, checkpoint, path, storage_options)
    if str(path).endswith("last.ckpt") and checkpoint["epoch"] == KILL_AFTER:
        open(sys.argv[3], "w").write("saved")
        import time
        time.sleep(600)  # the test kills us here

sgd.AtomicCheckpointIO.save_checkpoint = save_then_wait
ds = simulate(SimConfig(**{sim})).dataset()
cfg = from_dict(FitConfig, {cfg})
fit(ds, cfg, sys.argv[1], baseline=False, log=lambda s: None)
"""


def test_fit__sigkilled_fit_resumes_to_the_same_metrics(tmp_path):
    cfg = _cfg(6, kind="sa", batch_size=64)
    from genoattn.config import to_dict

    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent(SCRIPT).format(sim=repr(SIM), cfg=repr(to_dict(cfg))))
    run_dir, marker = tmp_path / "run", tmp_path / "saved"
    proc = subprocess.Popen(
        [sys.executable, str(script), str(run_dir), "2", str(marker)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 120
        while not marker.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert marker.exists(), "the subprocess never reached the checkpoint of epoch 2"
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not run_dir.exists()

    ds = simulate(SimConfig(**SIM)).dataset()
    resumed = fit_mod.fit(ds, cfg, run_dir, resume=True, baseline=False, log=lambda s: None)
    whole = fit_mod.fit(ds, cfg, tmp_path / "whole", baseline=False, log=lambda s: None)
    h_resumed = pl.read_csv(run_dir / "history.tsv", separator="\t")
    h_whole = pl.read_csv(tmp_path / "whole" / "history.tsv", separator="\t")
    assert h_resumed["epoch"].to_list() == list(range(6))
    np.testing.assert_allclose(h_resumed["val_loss"], h_whole["val_loss"], rtol=1e-6)
    for split in ("train", "val", "test"):
        for key in ("r2", "pearson"):
            assert resumed[split][key] == pytest.approx(whole[split][key], rel=1e-6, abs=1e-9)
    saved = json.loads((run_dir / "metrics.json").read_text())
    assert saved["test"]["r2"] == pytest.approx(whole["test"]["r2"], rel=1e-6)

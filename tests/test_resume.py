"""An interrupted sgd fit resumes from RUN.partial/checkpoints/last.ckpt (weights_only load)."""

from __future__ import annotations

import polars as pl
import pytest

import genoattn.system.fit as fit_mod
from genoattn.config import FitConfig, from_dict
from genoattn.simulate import SimConfig, simulate


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_fit__resume_continues_from_the_last_checkpoint(tmp_path, monkeypatch):
    ds = simulate(SimConfig(n_samples=300, n_loci=60, seed=4)).dataset()
    run_dir = tmp_path / "run"

    def cfg(epochs):
        return from_dict(
            FitConfig,
            {
                "model": {"kind": "additive", "fit": "sgd"},
                "train": {"progress": False, "max_epochs": epochs, "patience": 100, "lr": 0.01},
            },
        )

    def interrupted(work, run_dir):
        raise KeyboardInterrupt

    monkeypatch.setattr(fit_mod, "finish_run", interrupted)
    with pytest.raises(KeyboardInterrupt):
        fit_mod.fit(ds, cfg(2), run_dir, baseline=False, log=lambda s: None)
    partial = tmp_path / "run.partial"
    assert (partial / "checkpoints" / "last.ckpt").is_file()
    assert not run_dir.exists()  # nothing published

    monkeypatch.undo()
    messages = []
    fit_mod.fit(ds, cfg(4), run_dir, resume=True, baseline=False, log=messages.append)
    assert any("resuming from" in m for m in messages)
    history = pl.read_csv(run_dir / "history.tsv", separator="\t")
    assert history["epoch"].to_list() == [2, 3]  # epochs 0-1 ran before the interruption
    assert not partial.exists()

"""DDP that works: a 2-process CPU (gloo) fit matches the single-process fit, only rank 0 writes
the run directory, and --resume works under DDP.

From a library call (pytest) ``ddp_fork`` is used (CPU: no re-import in the workers, seconds
instead of half a minute for ``ddp_spawn``); the command line uses ``strategy: ddp``, which re-runs
the command per rank, where only rank 0 may touch the run directory (see docs/readme/trust.md)."""

from __future__ import annotations

import pytest
import torch

import genoattn.system.fit as fit_mod
from genoattn.config import FitConfig, from_dict
from genoattn.simulate import SimConfig, simulate

pytestmark = pytest.mark.skipif(
    not torch.distributed.is_available(), reason="torch.distributed is not available"
)


def _cfg(devices: int, epochs: int):
    strategy = "ddp_fork" if devices > 1 else "auto"
    return from_dict(
        FitConfig,
        {
            "model": {"kind": "sa", "fit": "sgd"},
            "train": {
                "progress": False,
                "accelerator": "cpu",
                "devices": devices,
                "strategy": strategy,
                "max_epochs": epochs,
                "patience": 100,
            },
        },
    )


def test_ddp__two_gloo_processes_match_one_and_resume(tmp_path, monkeypatch):
    sim = SimConfig(n_samples=1000, n_loci=30, pairs=["product", "dominance"], h2_pair=0.25, seed=1)
    ds = simulate(sim).dataset()
    quiet = lambda s: None  # noqa: E731
    single = fit_mod.fit(ds, _cfg(1, 12), tmp_path / "one", baseline=False, log=quiet)

    # 2 processes, interrupted after 6 epochs (nothing published), then resumed to 12
    def interrupted(work, run_dir):
        raise KeyboardInterrupt

    monkeypatch.setattr(fit_mod, "finish_run", interrupted)
    with pytest.raises(KeyboardInterrupt):
        fit_mod.fit(ds, _cfg(2, 6), tmp_path / "two", baseline=False, log=quiet)
    monkeypatch.undo()
    assert not (tmp_path / "two").exists()
    messages: list[str] = []
    two = fit_mod.fit(
        ds, _cfg(2, 12), tmp_path / "two", resume=True, baseline=False, log=messages.append
    )
    assert any("resuming from" in m for m in messages)
    assert abs(two["test"]["r2"] - single["test"]["r2"]) < 0.02, (two["test"], single["test"])
    assert single["test"]["r2"] > 0.3  # it learned something worth comparing
    # metrics over every row (no sampler padding): the split sizes are the real ones
    for split in ("train", "val", "test"):
        assert two[split]["n"] == single[split]["n"]
    history = (tmp_path / "two" / "history.tsv").read_text().splitlines()
    assert len(history) == 1 + 12  # header + the epochs before and after the interruption
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one", "two"]  # no stray rank dirs


@pytest.mark.slow
def test_ddp__command_line_ddp_reruns_the_command_and_only_rank_0_writes(tmp_path):
    import json
    import subprocess
    import sys

    from genoattn.simulate.write import write_simulation

    sim = SimConfig(n_samples=600, n_loci=30, pairs=["product", "dominance"], h2_pair=0.25, seed=1)
    write_simulation(simulate(sim), tmp_path / "d")
    conf = tmp_path / "ddp.yaml"
    conf.write_text(
        "model: {kind: sa, fit: sgd}\n"
        "train: {max_epochs: 8, accelerator: cpu, devices: 2, strategy: ddp}\n"
    )
    out = tmp_path / "run"
    from pathlib import Path

    exe = Path(sys.executable).parent / "genoattn"  # the console script, as a user runs it
    if not exe.is_file():
        pytest.skip("the genoattn console script is not installed beside this python")
    cmd = [str(exe), "fit", "--vcf", str(tmp_path / "d" / "cohort.vcf.gz")]
    cmd += ["--pheno", str(tmp_path / "d" / "pheno.tsv"), "--config", str(conf)]
    cmd += ["--out", str(out), "--no-progress"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("fit: wrote") == 1  # rank 1 neither scores nor publishes
    assert "Starting with 2 processes" in done.stdout + done.stderr
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["test"]["r2"] > metrics["additive"]["test"]["r2"]
    assert not (tmp_path / "run.partial").exists()

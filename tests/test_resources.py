"""Every fit reports what it cost (run.json "resources", the closing log line), and the split
fractions are options of `genoattn fit`."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time

import polars as pl
import pytest

from genoattn.cli.app import run
from genoattn.simulate import SimConfig, simulate
from genoattn.simulate.write import write_simulation
from genoattn.system.resources import Resources, peak_rss_bytes


def _rss_now() -> int:
    """Resident set size of this process now, in bytes (Linux /proc)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def test_resources__stages_add_up_and_peak_rss_is_the_high_water_mark():
    res = Resources()
    with res.stage("a"):
        time.sleep(0.01)
    with res.stage("a"):
        time.sleep(0.01)
    before, rss0 = peak_rss_bytes(), _rss_now()
    block = bytearray(64 * 1024 * 1024)  # touch 64 MiB
    block[::4096] = b"x" * len(block[::4096])
    report = res.report()
    assert report["stages_s"]["a"] >= 0.02
    assert report["wall_s"] >= report["stages_s"]["a"]
    assert report["stages_cpu_s"]["a"] < 0.02  # sleeping costs no CPU
    with res.stage("b"):
        t = time.process_time()
        while time.process_time() - t < 0.05:  # busy: CPU time counted to the stage
            pass
    assert res.report()["stages_cpu_s"]["b"] >= 0.05
    # the high-water mark covers the 64 MiB just touched (the kernel's counters may lag by a
    # few MiB) and never falls below an earlier peak (in a long session it can be far above)
    # (the report rounds to 0.1 MiB)
    assert (report["peak_rss_mb"] + 0.1) * 1024 * 1024 >= max(before, rss0 + 48 * 1024 * 1024)
    assert report["peak_gpu_mb"] is None or report["peak_gpu_mb"] >= 0
    assert report["peak_rss_mb"] * 1024 * 1024 == pytest.approx(peak_rss_bytes(), rel=0.05)


def test_resources__peak_rss_is_the_high_water_mark_of_a_fresh_process():
    # a fresh process, so that this test's own earlier peak cannot hide the allocation
    code = (
        "from genoattn.system.resources import peak_rss_bytes\n"
        "before = peak_rss_bytes()\n"
        "block = bytearray(256 * 1024 * 1024)\n"  # zero-filled: every page is touched
        "del block\n"
        "print(before, peak_rss_bytes())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    before, after = map(int, out.stdout.split())
    assert after >= before + 250 * 1024 * 1024


def test_fit_cli__records_resources_and_the_split_fractions(tmp_path, capsys):
    write_simulation(simulate(SimConfig(n_samples=200, n_loci=60, seed=2)), tmp_path / "d")
    out = tmp_path / "run"
    args = ["fit", "--vcf", str(tmp_path / "d" / "cohort.vcf.gz"), "--pheno"]
    args += [str(tmp_path / "d" / "pheno.tsv"), "--out", str(out), "--no-progress"]
    rc = run([*args, "--test-fraction", "0.4", "--val-fraction", "0.2"])
    stdout = capsys.readouterr().out
    assert rc == 0
    last = stdout.strip().splitlines()[-1]
    assert re.search(r"total wall time [0-9.]+ s, peak RSS [0-9]+ MiB", last), last
    info = json.loads((out / "run.json").read_text())
    stages = info["resources"]["stages_s"]
    assert {"load", "prepare", "baseline", "fit", "score", "save"} <= set(stages)
    # the default fit of a cohort is the sparse route: its stages, within "fit"
    inner = {"fit.main_effects", "fit.screening", "fit.pairs", "fit.relax", "fit.refit"}
    assert inner <= set(stages), stages
    assert sum(stages[k] for k in inner) <= stages["fit"]
    cpu = info["resources"]["stages_cpu_s"]
    assert set(cpu) == set(stages) and all(v >= 0 for v in cpu.values())
    assert cpu["fit"] > 0
    assert info["resources"]["peak_rss_mb"] > 0
    split = pl.read_csv(out / "split.tsv", separator="\t")["split"].value_counts()
    counts = dict(zip(split["split"], split["count"], strict=True))
    assert counts == {"test": 80, "val": 40, "train": 80}

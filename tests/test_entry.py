"""The console script as a user runs it: exit codes, complete outputs, one-line errors (the
process ends by os._exit after the command has returned and flushed; genoattn/cli/app.py)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest


def _exe() -> Path:
    exe = Path(sys.executable).parent / "genoattn"
    if not exe.is_file():
        pytest.skip("the genoattn console script is not installed beside this python")
    return exe


def test_console_script__writes_complete_outputs_and_exits_0(tmp_path):
    out = tmp_path / "sim"
    cmd = [str(_exe()), "simulate", "--out", str(out), "--samples", "60", "--loci", "40"]
    done = subprocess.run([*cmd, "--seed", "3"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "wrote" in done.stdout  # stdout flushed before the process ended
    pheno = pl.read_csv(out / "pheno.tsv", separator="\t")
    assert pheno.height == 60  # the last file written is whole


def test_console_script__bad_input_is_one_line_and_exit_2(tmp_path):
    cmd = [str(_exe()), "fit", "--vcf", str(tmp_path / "missing.vcf.gz"), "--pheno"]
    cmd += [str(tmp_path / "missing.tsv"), "--out", str(tmp_path / "run"), "--no-progress"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    err = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(err) == 1 and err[0].startswith("error:") and "missing" in err[0], done.stderr
    assert "Traceback" not in done.stderr and not (tmp_path / "run").exists()

"""A run records absolute input paths, so export works from any working directory."""

from __future__ import annotations

import yaml

from genoattn.cli.app import run
from genoattn.simulate import SimConfig, simulate
from genoattn.simulate.write import write_simulation


def test_run__export_from_another_directory_after_a_fit_with_relative_paths(tmp_path, monkeypatch):
    data = tmp_path / "data"
    write_simulation(simulate(SimConfig(n_samples=300, n_loci=60, seed=3)), data)
    monkeypatch.chdir(tmp_path)
    rc = run(
        [
            "fit",
            "--vcf",
            "data/cohort.vcf.gz",
            "--pheno",
            "data/pheno.tsv",
            "--out",
            "run",
            "--no-progress",
        ]
    )
    assert rc == 0
    saved = yaml.safe_load((tmp_path / "run" / "config.yaml").read_text())["data"]
    assert saved["vcf"] == str(data / "cohort.vcf.gz")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    rc = run(["export", str(tmp_path / "run"), "--out", "pairs.tsv", "--top", "5"])
    assert rc == 0
    assert (elsewhere / "pairs.tsv").read_text().startswith("RANK\tCHROM_A\tPOS_A\tID_A")

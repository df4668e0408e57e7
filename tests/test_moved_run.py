"""A run directory copied elsewhere works once export / predict are told where its inputs went;
configuration rules (default routes, overrides) come from genoattn.config alone."""

from __future__ import annotations

import shutil

import pytest

from genoattn.cli.app import run
from genoattn.config import DataConfig, FitConfig, default_fit, fit_config, from_dict
from genoattn.data.inputs import with_inputs
from genoattn.errors import GenoattnError
from genoattn.simulate import SimConfig, simulate
from genoattn.simulate.write import write_simulation


def test_export__copied_run_with_moved_inputs_gives_the_same_table(tmp_path):
    data = tmp_path / "data"
    write_simulation(simulate(SimConfig(n_samples=300, n_loci=60, seed=4)), data)
    inputs = ["--vcf", str(data / "cohort.vcf.gz"), "--pheno", str(data / "pheno.tsv")]
    inputs += ["--covar", str(data / "covar.tsv")]
    assert run(["fit", *inputs, "--out", str(tmp_path / "run"), "--no-progress"]) == 0
    here = tmp_path / "here.tsv"
    assert run(["export", str(tmp_path / "run"), "--out", str(here), "--no-progress"]) == 0

    shutil.copytree(tmp_path / "run", tmp_path / "archive" / "run")
    moved = tmp_path / "moved"
    data.rename(moved)  # the recorded paths no longer exist
    there = tmp_path / "there.tsv"
    copied = str(tmp_path / "archive" / "run")
    assert run(["export", copied, "--out", str(there), "--no-progress"]) == 2  # one-line error
    again = ["--vcf", str(moved / "cohort.vcf.gz"), "--pheno", str(moved / "pheno.tsv")]
    again += ["--covar", str(moved / "covar.tsv")]
    assert run(["export", copied, *again, "--out", str(there), "--no-progress"]) == 0
    assert there.read_text() == here.read_text()

    preds = tmp_path / "preds.tsv"
    pred_args = ["--vcf", str(moved / "cohort.vcf.gz"), "--covar", str(moved / "covar.tsv")]
    assert run(["predict", copied, *pred_args, "--out", str(preds), "--no-progress"]) == 0
    assert len(preds.read_text().splitlines()) == 301  # header + every sample


def test_with_inputs__a_genotype_input_replaces_the_recorded_one_of_any_format():
    data = DataConfig(vcf="/old/c.vcf.gz", pheno="/old/p.tsv", covar="/old/c.tsv", trait="t")
    moved = with_inputs(data, bfile="/new/c", covar="/new/c.tsv")
    assert (moved.vcf, moved.bfile, moved.pheno, moved.covar) == (
        None,
        "/new/c",
        "/old/p.tsv",
        "/new/c.tsv",
    )
    assert moved.trait == "t" and data.vcf == "/old/c.vcf.gz"  # the run's config is untouched
    assert with_inputs(data) == data
    with pytest.raises(GenoattnError, match="at most one genotype input"):
        with_inputs(data, vcf="a.vcf", bfile="b")


@pytest.mark.parametrize(
    "model, expected",
    [({}, ("sa", "auto")), ({"kind": "hfa"}, ("hfa", "sgd")), ({"kind": "rfa"}, ("rfa", "ridge"))]
    + [({"kind": k}, (k, "sparse")) for k in ("sa", "ha", "additive")]
    + [({"kind": "sa", "fit": "sgd"}, ("sa", "sgd"))],
)
def test_model_config__a_kind_without_a_route_gets_its_usual_route(model, expected):
    cfg = from_dict(FitConfig, {"model": model})  # a library user's YAML
    assert (cfg.model.kind, cfg.model.fit) == expected
    assert default_fit(model.get("kind")) == (expected[1] if "fit" not in model else "sparse")


def test_fit_config__command_line_over_yaml():
    raw = {"model": {"kind": "hfa", "rank": 3}, "train": {"seed": 7, "progress": False}}
    data = DataConfig(vcf="c.vcf", pheno="p.tsv")
    cfg = fit_config(raw, data, None, None, {"seed": None, "test_fraction": 0.2})
    assert (cfg.model.kind, cfg.model.fit, cfg.model.rank) == ("hfa", "sgd", 3)
    assert (cfg.train.seed, cfg.train.test_fraction, cfg.train.progress) == (7, 0.2, False)
    cfg = fit_config(raw, data, "sa", None, {"seed": 1})
    assert (cfg.model.kind, cfg.model.fit, cfg.train.seed) == ("sa", "sparse", 1)
    cfg = fit_config({"data": {"cache_dir": "/c"}}, data, None, "sgd")
    assert (cfg.model.kind, cfg.model.fit, cfg.data.cache_dir, cfg.train.progress) == (
        "sa",
        "sgd",
        "/c",
        True,
    )

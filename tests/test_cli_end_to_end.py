"""The CLI end to end through ``genoattn.cli.app.run``: simulate -> fit -> predict -> export.

Oracles: the same cohort read from VCF and from a PLINK fileset written with bed-reader must give
identical metrics; predictions written by ``predict`` reproduce the metrics ``fit`` saved; a
sequence alignment with a planted effect is learned; user mistakes give exit code 2, one line on
stderr naming the file, and no run directory.
"""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest

from genoattn.cli.app import run
from genoattn.contract import MISSING, SEQUENCE, Cohort, make_loci
from genoattn.io.fasta import write_fasta
from genoattn.io.vcf import read_vcf
from genoattn.system.metrics import metrics

SMALL_FIT = (
    "model:\n  sparse:\n    n_lambda: 6\n    max_candidates: 30\ntrain:\n  accelerator: cpu\n"
)


def _ok(argv: list[str], capsys) -> str:
    rc = run([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert rc == 0, f"{argv[0]} failed (rc {rc}): {err.strip()[-2000:]}"
    return out


def _fails(argv: list[str], capsys) -> str:
    """Run a command that must fail as a user error; return its one stderr line."""
    rc = run([str(a) for a in argv])
    _, err = capsys.readouterr()
    assert rc == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ")
    assert "Traceback" not in err
    return lines[0]


def _strip(result):
    """The result without wall times (at any depth: fit auto times each candidate)."""
    if isinstance(result, dict):
        return {k: _strip(v) for k, v in result.items() if k != "seconds"}
    return result


@pytest.fixture(scope="module")
def simulated(tmp_path_factory):
    """A simulated cohort written by ``genoattn simulate`` and a YAML preset for quick fits."""
    base = tmp_path_factory.mktemp("cli")
    sim = base / "sim"
    rc = run(["simulate", "--out", str(sim), "--samples", "600", "--loci", "80", "--seed", "1"])
    assert rc == 0
    config = base / "fast.yaml"
    config.write_text(SMALL_FIT)
    return base, sim, config


@pytest.fixture(scope="module")
def vcf_run(simulated):
    base, sim, config = simulated
    out = base / "run_vcf"
    rc = run(
        [
            "fit",
            "--vcf",
            str(sim / "cohort.vcf.gz"),
            "--pheno",
            str(sim / "pheno.tsv"),
            "--covar",
            str(sim / "covar.tsv"),
            "--config",
            str(config),
            "--seed",
            "0",
            "--no-progress",
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    return out


def test_cli__simulate_writes_every_file(simulated):
    _, sim, _ = simulated
    for name in ("cohort.vcf.gz", "pheno.tsv", "covar.tsv", "truth.tsv", "oracle.tsv", "sim.yaml"):
        assert (sim / name).stat().st_size > 0, name
    truth = pl.read_csv(sim / "truth.tsv", separator="\t", null_values="NA")
    assert truth.filter(pl.col("order") == 2).height == 3


def test_cli__fit_predict_export_with_plots(simulated, vcf_run, capsys):
    base, sim, _ = simulated
    for name in ("config.yaml", "run.json", "model.safetensors", "metrics.json", "split.tsv"):
        assert (vcf_run / name).is_file()
    saved = json.loads((vcf_run / "metrics.json").read_text())
    assert saved["test"]["r2"] > saved["additive"]["test"]["r2"]

    preds = base / "pred.tsv"
    argv = ["predict", vcf_run, "--vcf", sim / "cohort.vcf.gz", "--out", preds, "--no-progress"]
    line = _fails(argv, capsys)  # fit with covariates: predicting without them must be explicit
    assert "covariates" in line and "--no-covar" in line and not preds.exists()
    out = _ok([*argv, "--no-covar"], capsys)
    assert "600 predictions" in out
    table = pl.read_csv(preds, separator="\t", schema_overrides={"IID": pl.String})
    assert table.columns == ["FID", "IID", "PRED"] and table.height == 600
    assert np.isfinite(table["PRED"].to_numpy()).all()

    export = base / "epistasis.tsv"
    plots = base / "plots"
    _ok(["export", vcf_run, "--out", export, "--top", "10", "--plots", plots], capsys)
    ranked = pl.read_csv(export, separator="\t", null_values="NA")
    assert 1 <= ranked.height <= 10
    assert {"ID_A", "ID_B", "SCORE", "P", "N"} <= set(ranked.columns)
    truth = pl.read_csv(sim / "truth.tsv", separator="\t", null_values="NA")
    planted = {
        tuple(sorted(x))
        for x in truth.filter(pl.col("order") == 2).select("id_a", "id_b").iter_rows()
    }
    found = {tuple(sorted(x)) for x in ranked.select("ID_A", "ID_B").iter_rows()}
    assert len(planted & found) >= 2, (planted, found)
    alleles = base / "epistasis.alleles.tsv"
    assert pl.read_csv(alleles, separator="\t").height == 9 * ranked.height
    path_png = (
        "selection_path.png" if (vcf_run / "selection.tsv").is_file() else "training_curve.png"
    )
    for name in ("top_pairs.png", "interaction_arcs.png", "score_by_position.png", path_png):
        png = plots / name
        assert png.is_file() and png.stat().st_size > 1000, name
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli__predict_with_covariates_reproduces_fit_metrics(simulated, vcf_run, capsys):
    base, sim, _ = simulated
    preds = base / "pred_cov.tsv"
    rc = run(
        [
            str(a)
            for a in [
                "predict",
                vcf_run,
                "--vcf",
                sim / "cohort.vcf.gz",
                "--covar",
                sim / "covar.tsv",
                "--out",
                preds,
                "--no-progress",
            ]
        ]
    )
    assert rc == 0
    table = pl.read_csv(preds, separator="\t", schema_overrides={"IID": pl.String}).drop("FID")
    split = pl.read_csv(vcf_run / "split.tsv", separator="\t", schema_overrides={"IID": pl.String})
    pheno = pl.read_csv(sim / "pheno.tsv", separator="\t", schema_overrides={"IID": pl.String})
    joined = (
        table.join(split, on="IID")
        .join(pheno.drop("FID"), on="IID")
        .filter(pl.col("split") == "test")
    )
    saved = json.loads((vcf_run / "metrics.json").read_text())["test"]
    got = metrics(joined["trait"].to_numpy(), joined["PRED"].to_numpy(), False)
    np.testing.assert_allclose(got["r2"], saved["r2"], rtol=1e-4)


def test_cli__bfile_gives_the_same_fit_as_vcf(simulated, vcf_run, capsys):
    from bed_reader import to_bed

    base, sim, config = simulated
    cohort = read_vcf(sim / "cohort.vcf.gz")
    val = cohort.states.astype(np.float64)
    val[cohort.states == MISSING] = np.nan
    loci = cohort.loci
    ids = [str(s) for s in cohort.samples]
    to_bed(
        base / "cohort.bed",
        val,
        properties={
            "fid": ids,
            "iid": ids,
            "sid": loci["id"].to_list(),
            "chromosome": loci["chrom"].to_list(),
            "bp_position": loci["pos"].to_list(),
            "allele_1": loci["alt"].to_list(),
            "allele_2": loci["ref"].to_list(),
        },
        count_A1=True,
        num_threads=1,
    )
    out = base / "run_bed"
    _ok(
        [
            "fit",
            "--bfile",
            base / "cohort",
            "--pheno",
            sim / "pheno.tsv",
            "--covar",
            sim / "covar.tsv",
            "--config",
            config,
            "--seed",
            "0",
            "--no-progress",
            "--out",
            out,
        ],
        capsys,
    )
    from_vcf = json.loads((vcf_run / "metrics.json").read_text())
    from_bed = json.loads((out / "metrics.json").read_text())
    assert _strip(from_bed) == _strip(from_vcf)


def _alignment(n: int = 500, l: int = 24, seed: int = 0):
    """A DNA alignment (sequence cohort) and a trait with a planted column pair and main effect."""
    rng = np.random.default_rng(seed)
    alphabets = [
        sorted(rng.choice(list("ACGT-"), size=rng.integers(2, 4), replace=False)) for _ in range(l)
    ]
    states = np.column_stack([rng.integers(0, len(a), size=n) for a in alphabets])
    states[rng.random(states.shape) < 0.02] = MISSING
    st = states.astype(np.int8)
    ids = np.array([f"seq{i}" for i in range(n)], dtype=object)
    loci = make_loci(
        ["aln"] * l,
        range(1, l + 1),
        [f"col{p}" for p in range(1, l + 1)],
        [a[0] for a in alphabets],
        [",".join(a[1:]) for a in alphabets],
        alphabets,
    )
    cohort = Cohort(st, loci, ids, SEQUENCE)
    a, b, c = (st[:, 3] == 0), (st[:, 9] == 1), (st[:, 15] == 0)
    y = 1.0 * c + 2.0 * (a ^ b) + rng.standard_normal(n) * 0.7
    return cohort, y


@pytest.fixture(scope="module")
def fasta_run(simulated):
    base, _, config = simulated
    cohort, y = _alignment()
    fasta = base / "aln.fasta"
    write_fasta(cohort, fasta)
    pheno = base / "growth.tsv"
    pl.DataFrame(
        {"FID": cohort.samples.astype(str), "IID": cohort.samples.astype(str), "growth": y}
    ).write_csv(pheno, separator="\t")
    out = base / "run_fasta"
    rc = run(
        [
            "fit",
            "--fasta",
            str(fasta),
            "--pheno",
            str(pheno),
            "--config",
            str(config),
            "--seed",
            "0",
            "--no-progress",
            "--out",
            str(out),
        ]
    )
    assert rc == 0
    return cohort, fasta, out


def test_cli__fit_from_fasta_learns_a_planted_column_pair(fasta_run, tmp_path, capsys):
    cohort, fasta, out = fasta_run
    info = json.loads((out / "run.json").read_text())
    assert info["kind"] == "sequence" and info["trait"] == "growth"
    result = json.loads((out / "metrics.json").read_text())
    assert result["test"]["r2"] > 0.5, result["test"]
    assert result["test"]["r2"] > result["additive"]["test"]["r2"] + 0.2
    preds = tmp_path / "pred.tsv"
    _ok(["predict", out, "--fasta", fasta, "--out", preds, "--no-progress"], capsys)
    assert pl.read_csv(preds, separator="\t").height == cohort.n_samples


def test_cli__export_of_a_fasta_run_ranks_the_planted_pair(fasta_run, tmp_path, capsys):
    _, _, out = fasta_run
    table = tmp_path / "epistasis.tsv"
    _ok(["export", out, "--out", table, "--top", "5"], capsys)
    ranked = pl.read_csv(table, separator="\t", null_values="NA")
    assert ranked.height >= 1
    assert tuple(sorted(ranked.row(0, named=True)[k] for k in ("ID_A", "ID_B"))) == (
        "col10",
        "col4",
    )
    assert (ranked["N"] > 0).all()


def test_cli__missing_pheno_file_is_a_one_line_error(simulated, tmp_path, capsys):
    _, sim, config = simulated
    out = tmp_path / "run"
    line = _fails(
        [
            "fit",
            "--vcf",
            sim / "cohort.vcf.gz",
            "--pheno",
            tmp_path / "nope.tsv",
            "--config",
            config,
            "--no-progress",
            "--out",
            out,
        ],
        capsys,
    )
    assert "nope.tsv" in line
    assert not out.exists() and not (tmp_path / "run.partial").exists()


def test_cli__unknown_trait_column_is_a_one_line_error(simulated, tmp_path, capsys):
    _, sim, config = simulated
    out = tmp_path / "run"
    line = _fails(
        [
            "fit",
            "--vcf",
            sim / "cohort.vcf.gz",
            "--pheno",
            sim / "pheno.tsv",
            "--trait",
            "height",
            "--config",
            config,
            "--no-progress",
            "--out",
            out,
        ],
        capsys,
    )
    assert "pheno.tsv" in line and "height" in line and "trait" in line
    assert not out.exists() and not (tmp_path / "run.partial").exists()


def test_cli__existing_out_needs_overwrite(simulated, tmp_path, capsys):
    _, sim, config = simulated
    out = tmp_path / "run"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    line = _fails(
        [
            "fit",
            "--vcf",
            sim / "cohort.vcf.gz",
            "--pheno",
            sim / "pheno.tsv",
            "--config",
            config,
            "--no-progress",
            "--out",
            out,
        ],
        capsys,
    )
    assert str(out) in line and "--overwrite" in line
    assert (out / "keep.txt").read_text() == "mine"
    assert not (tmp_path / "run.partial").exists()

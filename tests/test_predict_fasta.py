"""``predict`` on any FASTA: loci by alignment column, states by residue, no QC, unseen = missing.

Oracles: predictions of a disjoint test alignment (its own consensus, constant columns, a residue
never seen in training) equal the predictions of the same sequences inside one file with the
training sequences, and equal the in-memory predictor on hand-mapped tokens; the training file's
predictions reproduce the metrics ``fit`` saved; a run with covariates refuses to predict without
them unless ``--no-covar``.
"""

from __future__ import annotations

import json

import numpy as np
import polars as pl
import pytest
import torch

from genoattn.cli.app import run
from genoattn.system.rundir import load_run

FAST = "model:\n  sparse:\n    n_lambda: 6\n    max_candidates: 30\ntrain:\n  accelerator: cpu\n"
RES = "ACGT"


def _cli(argv, capsys) -> tuple[int, str, str]:
    rc = run([str(a) for a in argv])
    out, err = capsys.readouterr()
    return rc, out, err


def _write(path, ids, seqs):
    path.write_text("".join(f">{i}\n{s}\n" for i, s in zip(ids, seqs, strict=True)))
    return path


def _library(n=500, l=12, seed=0):
    """Random DNA sequences with a planted main effect and an epistatic column pair."""
    rng = np.random.default_rng(seed)
    arr = rng.choice(np.array(list(RES)), size=(n, l), p=[0.4, 0.3, 0.2, 0.1])
    y = 1.0 * (arr[:, 2] == "A") + 1.5 * ((arr[:, 5] == "C") & (arr[:, 8] == "G"))
    y = y + 0.5 * rng.standard_normal(n)
    return ["".join(r) for r in arr], y


@pytest.fixture(scope="module")
def fasta_fit(tmp_path_factory):
    base = tmp_path_factory.mktemp("predfa")
    seqs, y = _library()
    ids = [f"tr{i}" for i in range(len(seqs))]
    train = _write(base / "train.fa", ids, seqs)
    pheno = base / "pheno.tsv"
    pl.DataFrame({"FID": ids, "IID": ids, "y": y}).write_csv(pheno, separator="\t")
    (base / "fast.yaml").write_text(FAST)
    out = base / "run"
    argv = ["fit", "--fasta", train, "--pheno", pheno, "--out", out, "--model", "sa"]
    argv += ["--fit", "sparse", "--config", base / "fast.yaml", "--no-progress"]
    assert run([str(a) for a in argv]) == 0
    return base, out, ids, seqs


def _test_library():
    """A disjoint library: column 1 constant 'T', consensus 'G' elsewhere, a '-' in column 4
    (a residue never seen in training), lower case and an N."""
    rng = np.random.default_rng(7)
    arr = rng.choice(np.array(list(RES)), size=(40, 12), p=[0.1, 0.2, 0.6, 0.1])
    arr[:, 0] = "T"
    arr[:3, 3] = "-"
    arr[5, 7] = "N"
    seqs = ["".join(r) for r in arr]
    seqs[6] = seqs[6].lower()
    return [f"te{i}" for i in range(40)], seqs


def _predict(run_dir, fasta, out, capsys, *extra):
    rc, stdout, err = _cli(["predict", run_dir, "--fasta", fasta, "--out", out, *extra], capsys)
    assert rc == 0, err
    return pl.read_csv(out, separator="\t", schema_overrides={"FID": pl.String, "IID": pl.String})


def test_predict__disjoint_fasta_equals_predicting_inside_training_file(fasta_fit, capsys):
    base, run_dir, tr_ids, tr_seqs = fasta_fit
    te_ids, te_seqs = _test_library()
    alone = _write(base / "test.fa", te_ids, te_seqs)
    both = _write(base / "both.fa", tr_ids + te_ids, tr_seqs + te_seqs)
    a = _predict(run_dir, alone, base / "a.tsv", capsys)
    assert a.columns == ["FID", "IID", "PRED"] and a["IID"].to_list() == te_ids
    b = _predict(run_dir, both, base / "b.tsv", capsys).filter(pl.col("IID").is_in(te_ids))
    np.testing.assert_array_equal(a["PRED"].to_numpy(), b["PRED"].to_numpy())

    # oracle: the run's own predictor on tokens mapped by hand (column j, residue -> run state)
    r = load_run(run_dir)
    offsets = np.concatenate([[0], np.cumsum(r.loci["n_states"].to_numpy())[:-1]])
    cols = r.loci["pos"].to_numpy() - 1
    tok = np.zeros((len(te_seqs), len(cols)), dtype=np.int64)
    for j, (c, states) in enumerate(zip(cols, r.loci["states"].to_list(), strict=True)):
        for i, s in enumerate(te_seqs):
            ch = s[c].upper()
            tok[i, j] = offsets[j] + states.index(ch) + 1 if ch in states else 0
    want = r.predictor.predict(torch.as_tensor(tok), torch.zeros(len(te_seqs), 0)).numpy()
    # tables print 6 significant digits
    np.testing.assert_allclose(a["PRED"].to_numpy(), want, rtol=5e-6, atol=1e-6)


def test_predict__log_counts_unseen_residues_and_keeps_all_loci(fasta_fit, capsys):
    base, run_dir, _, _ = fasta_fit
    te_ids, te_seqs = _test_library()
    fasta = _write(base / "test2.fa", te_ids, te_seqs)
    rc, out, err = _cli(["predict", run_dir, "--fasta", fasta, "--out", base / "c.tsv"], capsys)
    assert rc == 0, err
    n_loci = load_run(run_dir).loci.height
    assert f"loci: {n_loci} of the run's {n_loci} found" in out
    assert "3 calls with residues unseen in training treated as missing" in out


def test_predict__training_file_reproduces_saved_metrics(fasta_fit, capsys):
    from genoattn.system.metrics import metrics

    base, run_dir, tr_ids, tr_seqs = fasta_fit
    table = _predict(run_dir, base / "train.fa", base / "d.tsv", capsys)
    split = pl.read_csv(run_dir / "split.tsv", separator="\t")
    pheno = pl.read_csv(base / "pheno.tsv", separator="\t")
    joined = table.join(split, on="IID").join(pheno.drop("FID"), on="IID")
    test = joined.filter(pl.col("split") == "test")
    saved = json.loads((run_dir / "metrics.json").read_text())["test"]
    got = metrics(test["y"].to_numpy(), test["PRED"].to_numpy(), False)
    np.testing.assert_allclose(got["r2"], saved["r2"], rtol=1e-5)


def test_predict__wrong_width_is_one_line_error(fasta_fit, capsys):
    base, run_dir, _, _ = fasta_fit
    short = _write(base / "short.fa", ["s1", "s2"], ["ACG", "ACT"])
    rc, _, err = _cli(["predict", run_dir, "--fasta", short, "--out", base / "e.tsv"], capsys)
    assert rc == 2 and len(err.strip().splitlines()) == 1
    assert "columns" in err and "short.fa" in err
    assert not (base / "e.tsv").exists()

"""Quick modes of the validation benchmarks, checked against planted truth and naive references."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from genoattn.bench import colliding, random_features
from genoattn.bench.activation import run_activation
from genoattn.bench.common import markdown_table
from genoattn.bench.lm import run_lm
from genoattn.cli.bench import BenchName, bench


@pytest.fixture(scope="module")
def colliding_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("colliding")
    return colliding.run_colliding(True, out, seed=0), out


def test_colliding__values_match_naive_loop():
    rng = np.random.default_rng(1)
    y = rng.integers(0, 30, size=(5, 7))
    got = colliding.collision_values(y, 30, 2)
    for b in range(5):
        for i in range(7):
            want = 0
            for j in range(7):
                d = abs(int(y[b, i]) - int(y[b, j]))
                want -= int(j != i and min(d, 30 - d) <= 4)
            assert got[b, i] == want


def test_colliding__kernel_readout_equals_table_readout():
    rng = np.random.default_rng(2)
    n, length = 12, 9
    table = colliding.embedding_table("sinusoidal", n)
    np.testing.assert_allclose(table.T @ table, np.eye(n), atol=1e-12)  # orthonormal basis
    c, w = rng.standard_normal((n, n)), rng.standard_normal(n)
    y = rng.integers(0, n, size=(4, length))
    x = torch.as_tensor(table[y])
    via_kernel = colliding.sa_lin_per_entity(x, torch.as_tensor(c), torch.as_tensor(w))
    f = torch.as_tensor(colliding.invariant(table, c, w))
    via_table = colliding.readout_from_invariant(f, torch.as_tensor(y))
    naive = np.zeros((4, length))
    for b in range(4):
        for i in range(length):
            for j in range(length):
                if j != i:
                    xi, xj = table[y[b, i]], table[y[b, j]]
                    naive[b, i] += (xi @ c @ xj) * (w @ xj)
    np.testing.assert_allclose(via_kernel.numpy(), naive, atol=1e-10)
    np.testing.assert_allclose(via_table.numpy(), naive, atol=1e-10)


def test_colliding__distinct_rows_never_repeat():
    y = colliding.sample_rows(np.random.default_rng(0), 50, 20, 25, distinct=True)
    assert all(len(set(row)) == 20 for row in y.tolist())


def test_colliding__length_generalises_and_invariant_matches(colliding_run):
    record, out = colliding_run
    res = record["results"]
    longest = max(record["settings"]["test_lens"])
    one = res["onehot"]
    var = one["test"][longest]["target_var"]
    assert one["test"][longest]["mse"] < 1e-8 * var
    assert one["invariant_max_abs_offdiag"] < 1e-4
    assert one["invariant_max_abs_diag"] < 1e-4
    assert one["raw_c_rel_fro"] > 0.1  # C itself is not the ground truth; only C w is
    assert res["sinusoidal"]["test"][longest]["mse"] < 1e-2 * var
    assert res["sinusoidal"]["invariant_rel_fro"] < 0.05
    # Counterexample: repeat-free training tuples leave the diagonal of C w unconstrained.
    bad = res["onehot-distinct"]
    assert bad["invariant_max_abs_offdiag"] < 1e-4
    assert bad["invariant_max_abs_diag"] > 0.5
    assert bad["test"][longest]["mse"] > 0.05 * var
    assert bad["test"][longest]["mse"] > 10 * bad["test"][2]["mse"]
    for name in ("results.json", "table.md", "mse_vs_length.png", "truth_and_training.png"):
        assert (out / name).stat().st_size > 0
    assert json.loads((out / "results.json").read_text())["benchmark"] == "colliding-agents"


def test_activation__recovers_planted_activators(tmp_path):
    res = run_activation(True, tmp_path, seed=0)["results"]
    assert res["test_accuracy"] > 0.99
    assert res["baseline_accuracy"] < 0.9
    assert res["activator_locus_recovered"] == 1.0
    assert res["activator_set_recovered"] > 0.95
    assert (tmp_path / "structure.png").exists()


def test_random_features__ridge_recovers_planted_weights():
    rng = np.random.default_rng(3)
    phi = rng.standard_normal((400, 10))
    v = rng.standard_normal(10)
    got = random_features.ridge_fit(phi, phi @ v, (1e-10, 1e-2, 1.0), rng)
    np.testing.assert_allclose(got, v, atol=1e-6)


def test_random_features__attention_beats_mlp_at_largest_n(tmp_path):
    record = random_features.run_random_features(True, tmp_path, seed=0)
    curves = record["results"]["curves"]
    for kind in random_features.TARGETS:
        mlp = curves[kind]["RFMLP"]["mean"][-1]
        biased = curves[kind]["RFA biased"]["mean"][-1]
        assert biased < 0.8 * mlp, (kind, biased, mlp)
        assert curves[kind]["RFA biased"]["mean"][-1] < curves[kind]["RFA biased"]["mean"][0]
    assert (tmp_path / "test_error_vs_n.png").exists()


def test_lm__perplexity_below_unigram_and_params_matched(tmp_path):
    res = run_lm(True, tmp_path, seed=0)["results"]
    unigram = res["unigram_perplexity"]
    sa_params = res["summary"]["SA"]["params_total"]
    for v, s in res["summary"].items():
        assert math.isfinite(s["val_ppl_mean"]) and s["val_ppl_mean"] < 0.8 * unigram, v
        assert abs(s["params_total"] - sa_params) < 0.03 * sa_params, v
        assert s["tokens_per_s"] > 0


def test_lm__text_option_rejects_missing_file(tmp_path):
    from genoattn.errors import GenoattnError

    with pytest.raises(GenoattnError, match="file not found"):
        run_lm(True, tmp_path / "out", text=tmp_path / "nope.txt")


def test_cli_bench__prints_table_and_writes(tmp_path, capsys):
    bench(BenchName.genotype, quick=True, out=tmp_path, seed=1, text=None)
    printed = capsys.readouterr().out
    assert "SA_lin (one-hot)" in printed
    assert (tmp_path / "activation" / "results.json").exists()


def test_markdown_table__formats_cells():
    md = markdown_table(["a", "b"], [[1, 1.5e-7], ["x", 0.25]])
    assert md.splitlines() == ["| a | b |", "| --- | --- |", "| 1 | 1.500e-07 |", "| x | 0.25 |"]

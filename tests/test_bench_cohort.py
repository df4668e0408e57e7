"""The genotype benchmark 2(b) in quick mode: planted pairs recovered, held-out R^2 near oracle."""

from __future__ import annotations

import json

import pytest

from genoattn.bench.cohort import run_cohort


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_bench_cohort__quick_recovers_planted_pairs_and_beats_additive(tmp_path):
    record = run_cohort(True, tmp_path, seed=0)
    rows = {r["method"]: r for r in record["results"]["methods"]}
    sa = rows["SA_lin (sparse)"]
    assert sa["recall@10"] == 1.0  # every planted pair in the clumped top 10
    assert sa["test_r2"] > rows["additive"]["test_r2"] + 0.1
    assert sa["test_r2_over_oracle"] >= 0.8
    assert rows["exhaustive scan (4-df)"]["recall@10"] == 1.0
    saved = json.loads((tmp_path / "results.json").read_text())
    assert saved["results"]["oracle_test_r2"] == pytest.approx(record["results"]["oracle_test_r2"])
    assert (tmp_path / "table.md").read_text().startswith("# genotype-cohort")

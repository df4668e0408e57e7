"""``genoattn report`` and the figures of ``export --plots`` / ``scan --plots``.

Oracles: the run's own files (metrics.json, config.yaml, the export table written next to the
report) and the HTML text itself: no remote resource, every image inline, the tables present.
Chromium is not needed here (scripts/screenshot_report.sh renders the page for the docs).
"""

from __future__ import annotations

import json
import re

import polars as pl
import pytest

from genoattn.cli.app import run

SMALL_FIT = (
    "model:\n  sparse:\n    n_lambda: 6\n    max_candidates: 30\ntrain:\n  accelerator: cpu\n"
)
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    base = tmp_path_factory.mktemp("report")
    sim = base / "sim"
    argv = ["simulate", "--out", sim, "--samples", "500", "--loci", "50", "--seed", "5"]
    assert run([str(a) for a in argv]) == 0
    (base / "fast.yaml").write_text(SMALL_FIT)
    args = ["--vcf", sim / "cohort.vcf.gz", "--pheno", sim / "pheno.tsv", "--no-progress"]
    argv = ["fit", *args, "--covar", sim / "covar.tsv", "--config", base / "fast.yaml"]
    assert run([str(a) for a in [*argv, "--out", base / "run"]]) == 0
    return base, args


def test_report__self_contained_html_with_tables_metrics_and_figures(fitted, tmp_path, capsys):
    base, args = fitted
    scan = tmp_path / "scan.tsv"
    assert run([str(a) for a in ["scan", *args, "--out", scan, "--top", "20"]]) == 0
    out = tmp_path / "report.html"
    argv = ["report", base / "run", "--out", out, "--top", "8", "--scan", scan, "--no-progress"]
    assert run([str(a) for a in argv]) == 0, capsys.readouterr().err
    page = out.read_text()
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    # self-contained: no remote or relative resource, scripts inline only
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert not re.search(r"<script[^>]*\bsrc=", page)
    assert not re.search(r"""src=["'](?!data:)""", page)
    assert page.count('src="data:image/png;base64,') >= 6  # export figures + scan figures
    # the tables: metrics against the baseline, the export rows, the scan rows, the settings
    metrics = json.loads((base / "run" / "metrics.json").read_text())
    assert f"{metrics['test']['r2']:.6g}" in page
    assert f"{metrics['additive']['test']['r2']:.6g}" in page
    assert page.count('<table class="sortable">') >= 5
    for col in ("RANK", "ID_A", "P_BONF", "LOG10P", "GENOTYPE_A"):
        assert f"<th>{col}</th>" in page or f'<th class="s">{col}</th>' in page, col
    exported = tmp_path / "ep.tsv"
    assert run([str(a) for a in ["export", base / "run", "--out", exported, "--top", "8"]]) == 0
    table = pl.read_csv(exported, separator="\t", null_values="NA")
    for row in table.iter_rows(named=True):
        assert f">{row['ID_A']}<" in page and f">{row['ID_B']}<" in page
    assert (base / "run" / "config.yaml").read_text().splitlines()[0].split(":")[0] in page
    assert "samples: genotype file had 500" in page  # sample accounting


def test_report__unwritable_output_is_a_one_line_error(fitted, tmp_path, capsys):
    base, _ = fitted
    argv = ["report", base / "run", "--out", tmp_path / "missing" / "r.html", "--no-progress"]
    assert run([str(a) for a in argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ")


def test_plots__export_and_scan_write_their_figures(fitted, tmp_path, capsys):
    base, args = fitted
    plots = tmp_path / "plots"
    argv = ["export", base / "run", "--out", tmp_path / "e.tsv", "--plots", plots, "--top", "6"]
    assert run([str(a) for a in argv]) == 0
    argv = ["scan", *args, "--out", tmp_path / "s.tsv", "--top", "30", "--plots", plots]
    assert run([str(a) for a in argv]) == 0
    names = ["top_pairs.png", "interaction_arcs.png", "score_by_position.png",
             "selection_path.png", "scan_manhattan.png", "scan_arcs.png"]  # fmt: skip
    for name in names:
        png = plots / name
        assert png.is_file() and png.stat().st_size > 5000, name
        assert png.read_bytes()[:8] == PNG
    assert not list(plots.glob("*.tmp*"))  # written atomically

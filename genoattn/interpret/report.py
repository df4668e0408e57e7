"""``genoattn report``: one self-contained HTML file about a fitted run.

Sections: the run's settings (config.yaml), sample and QC accounting, metrics against the additive
baseline, the exported interaction table (top rows, sortable) and the figures. Figures are
inlined as base64 PNG and the only script is a few lines of inline JavaScript that sorts a table
by a clicked column, so the file opens offline and can be mailed or archived as it is.
"""

from __future__ import annotations

import base64
import html
import json
import tempfile
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import polars as pl

from genoattn.atomic import atomic_path
from genoattn.config import ExportConfig
from genoattn.errors import GenoattnError
from genoattn.interpret.table import tsv_text

_CSS = """
body{font-family:-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px auto;
max-width:1150px;color:#222;font-size:14px;line-height:1.45}
h1{font-size:22px;margin-bottom:2px}h2{font-size:17px;border-bottom:1px solid #ccc;
padding-bottom:3px;margin-top:28px}.sub{color:#666}
table{border-collapse:collapse;font-size:12px;margin:8px 0}
th,td{border:1px solid #ddd;padding:3px 6px;text-align:right;white-space:nowrap}
th{background:#f0f3f7;cursor:pointer;position:sticky;top:0}
td.s,th.s{text-align:left}tr:nth-child(even) td{background:#fafafa}
.scroll{max-height:520px;overflow:auto;border:1px solid #eee}
pre{background:#f6f8fa;padding:8px;font-size:12px;overflow:auto;max-height:320px}
img{max-width:100%;border:1px solid #eee;margin:6px 0}.note{color:#555;font-size:12.5px}
"""

# Click a header to sort by that column (numbers numerically, NA last); click again to reverse.
_JS = """
document.querySelectorAll('table.sortable th').forEach(function(th, i){
  th.addEventListener('click', function(){
    var tb = th.closest('table').tBodies[0], rows = Array.from(tb.rows);
    var asc = th.dataset.asc !== '1'; th.dataset.asc = asc ? '1' : '0';
    function key(r){ var t = r.cells[i].textContent, v = parseFloat(t);
      return t === 'NA' ? null : (isNaN(v) || !/^[-+.\\d]/.test(t) ? t : v); }
    rows.sort(function(a, b){ var x = key(a), y = key(b);
      if (x === null) return 1; if (y === null) return -1;
      return (x < y ? -1 : x > y ? 1 : 0) * (asc ? 1 : -1); });
    rows.forEach(function(r){ tb.appendChild(r); });
  });
});
"""


def html_table(df: pl.DataFrame, max_rows: int = 200) -> str:
    """A sortable HTML table of ``df`` (6 significant digits, NA for missing)."""
    text = tsv_text(df.head(max_rows))
    numeric = {c for c, dt in df.schema.items() if dt.is_numeric()}
    cls = {c: "" if c in numeric else ' class="s"' for c in df.columns}
    head = "".join(f"<th{cls[c]}>{html.escape(c)}</th>" for c in df.columns)
    body = []
    for row in text.iter_rows():
        cells = "".join(
            f"<td{cls[c]}>{'NA' if v is None else html.escape(str(v))}</td>"
            for c, v in zip(df.columns, row, strict=True)
        )
        body.append(f"<tr>{cells}</tr>")
    more = (
        f'<p class="note">first {max_rows} of {df.height} rows</p>' if df.height > max_rows else ""
    )
    return (
        f'<div class="scroll"><table class="sortable"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>{more}"
    )


def png_tag(path: Path, alt: str) -> str:
    """An <img> with the PNG inlined as a base64 data URI."""
    data = base64.b64encode(Path(path).read_bytes()).decode()
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def metrics_table(metrics: dict) -> pl.DataFrame:
    """One row per split: the model's and the additive baseline's metrics side by side."""
    rows = []
    base = metrics.get("additive", {})
    for split in ("train", "val", "test"):
        if split not in metrics:
            continue
        m, b = metrics[split], base.get(split, {})
        row = {"split": split, "N": m.get("n")}
        for k in ("r2", "pearson", "auc"):
            if k in m:
                row[f"{k.upper()} model"] = m[k]
                row[f"{k.upper()} additive"] = b.get(k)
        rows.append(row)
    return pl.DataFrame(rows)


def _section(title: str, body: str) -> str:
    return f"<h2>{html.escape(title)}</h2>\n{body}\n"


def _samples_section(run, lines: list[str]) -> str:
    info = run.info
    split = {k: len(v) for k, v in run.split.items()}
    facts = pl.DataFrame(
        {
            "item": ["trait", "trait type", "covariates", "samples", "loci", "train / val / test"],
            "value": [
                str(info.get("trait")),
                "case/control (effects in log-odds)" if info.get("binary") else "quantitative",
                ", ".join(info.get("covariates") or []) or "none",
                str(info.get("n_samples")),
                str(info.get("n_loci")),
                " / ".join(str(split.get(k, 0)) for k in ("train", "val", "test")),
            ],
        }
    )
    log = "\n".join(html.escape(x) for x in lines)
    return html_table(facts) + f"<pre>{log}</pre>"


def build_report(
    run_dir: Path,
    out: Path,
    top: int = 20,
    scan: Path | None = None,
    cache_dir: Path | None = None,
    progress: bool = False,
    log: Callable[[str], None] = print,
) -> Path:
    """Export the run's top interactions, draw the figures and write ``out`` (one HTML file)."""
    from genoattn.data.load import load_dataset
    from genoattn.interpret.export import export
    from genoattn.interpret.outputs import export_figures, export_tables
    from genoattn.system.rundir import load_run

    out = Path(out)
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():  # caught before the genotypes are read
        raise GenoattnError("output directory does not exist", parent)
    run = load_run(run_dir)
    if cache_dir is not None:
        run.cfg.data.cache_dir = str(cache_dir)
    lines: list[str] = []

    def keep(msg: str) -> None:
        lines.append(msg)
        log(msg)

    ds = load_dataset(run.cfg.data, progress=progress, log=keep)
    res = export(run, ds, ExportConfig(top=top), log=keep, progress=progress)
    table, alleles = export_tables(res, ds)
    extra = ""
    if run.info.get("n_triples"):  # HyperAttention runs: their 3-way blocks too
        tri = export(run, ds, ExportConfig(order=3, top=top), log=keep)
        title = f"3-way interactions (top {top} after LD clumping, confirmed on the test samples)"
        extra = _section(title, html_table(export_tables(tri, ds)[0]))
    with tempfile.TemporaryDirectory(prefix="genoattn-report-") as tmp:
        figs = export_figures(res, table, run, ds, Path(tmp))
        imgs = "\n".join(png_tag(p, p.stem) for p in figs)
        scan_html = extra + (_scan_section(scan, ds, Path(tmp)) if scan is not None else "")
    page = _page(run, lines, table, alleles, imgs, scan_html, top)
    try:
        with atomic_path(out) as tmp_out:
            Path(tmp_out).write_text(page, encoding="utf-8")
    except OSError as e:
        raise GenoattnError(f"cannot write the report ({e.strerror})", out) from None
    log(f"report: wrote {out}")
    return out


def _scan_section(scan: Path, ds, folder: Path) -> str:
    from math import comb

    from genoattn.interpret.outputs import scan_figures

    if not scan.is_file():
        raise GenoattnError("scan table not found", scan)
    read = pl.read_parquet if scan.suffix == ".parquet" else pl.read_csv
    kw = {} if scan.suffix == ".parquet" else {"separator": "\t", "null_values": "NA"}
    table = read(scan, **kw)
    if "LOG10P" not in table.columns:
        raise GenoattnError("not a `genoattn scan` table (no LOG10P column)", scan)
    n_tests = comb(int(ds.cohort.is_biallelic().sum()), 3 if "ID_C" in table.columns else 2)
    figs = scan_figures(table, n_tests, folder, ds.cohort.loci.select("chrom", "pos", "id"))
    return _section(
        f"Exhaustive scan ({scan.name})",
        html_table(table) + "\n".join(png_tag(p, p.stem) for p in figs),
    )


def _page(run, lines, table, alleles, imgs: str, scan_html: str, top: int) -> str:
    cfg_text = (run.path / "config.yaml").read_text()
    metrics = json.loads((run.path / "metrics.json").read_text())
    k = table.height
    n_conf = int((table["P"].fill_null(1.0) <= 0.05 / max(k, 1)).sum()) if k else 0
    when = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        f"<h1>genoattn run {html.escape(run.path.name)}</h1>",
        f'<p class="sub">{html.escape(str(run.path))} · report written {when}</p>',
        _section("Samples and quality control", _samples_section(run, lines)),
        _section(
            "Prediction on held-out samples, against the additive baseline",
            html_table(metrics_table(metrics))
            + '<p class="note">The additive baseline is fitted on the same split with main '
            "effects only; the gap on the test samples is what the interactions add.</p>",
        ),
        _section(
            f"Interactions (top {top} after LD clumping, confirmed on the test samples)",
            f"<p>{n_conf} of {k} rows pass Bonferroni at 0.05 (P ≤ 0.05/{k}, column "
            "P_BONF ≤ 0.05). Columns: README, section Tables, figures and the report.</p>"
            + html_table(table),
        ),
        _section("Figures", imgs),
        scan_html,
        _section(
            "Allele-level effects (pure interaction, per genotype combination)",
            html_table(alleles, max_rows=90),
        ),  # fmt: skip
        _section("Settings (config.yaml of the run)", f"<pre>{html.escape(cfg_text)}</pre>"),
    ]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>genoattn report: {html.escape(run.path.name)}</title>"
        f"<style>{_CSS}</style></head><body>\n"
        + "\n".join(parts)
        + f"\n<script>{_JS}</script>\n</body></html>\n"
    )

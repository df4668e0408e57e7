#!/usr/bin/env bash
# Rebuild the README's example figures and report screenshot (docs/*.png) from the bundled example:
# fit, export --plots, scan --plots, report, a headless-Chromium screenshot, then shrink the PNGs.
# Usage: scripts/make_example_figures.sh [WORKDIR]   (needs chromium for the screenshot)
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-$(mktemp -d)}
ex=data/example
genoattn fit --vcf $ex/cohort.vcf.gz --pheno $ex/pheno.tsv --covar $ex/covar.tsv \
  --out "$work/example_run" --overwrite --no-progress
genoattn export "$work/example_run" --out "$work/epistasis.tsv" --plots "$work/plots" --no-progress
genoattn scan --vcf $ex/cohort.vcf.gz --pheno $ex/pheno.tsv --covar $ex/covar.tsv \
  --out "$work/scan.tsv" --top 200 --plots "$work/plots" --no-progress
genoattn report "$work/example_run" --scan "$work/scan.tsv" --out "$work/report.html" --no-progress
scripts/screenshot_report.sh "$work/report.html" "$work/report.png" 1200,2000
mkdir -p docs
python - "$work" <<'PY'
import sys
from pathlib import Path

from PIL import Image

work = Path(sys.argv[1])
shots = {
    "report.png": "example_report.png",
    "plots/top_pairs.png": "example_top_pairs.png",
    "plots/interaction_arcs.png": "example_interaction_arcs.png",
    "plots/selection_path.png": "example_selection_path.png",
    "plots/scan_manhattan.png": "example_scan_manhattan.png",
}
for src, dst in shots.items():
    im = Image.open(work / src).convert("RGB")
    if im.width > 1000:
        im = im.resize((1000, round(im.height * 1000 / im.width)), Image.LANCZOS)
    im = im.quantize(colors=256, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.FLOYDSTEINBERG)
    im.save(Path("docs") / dst, optimize=True)
    print(f"docs/{dst}: {(Path('docs') / dst).stat().st_size // 1024} KiB")
PY

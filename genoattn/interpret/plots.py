"""Figures of a run, an export and a scan, in one style (matplotlib, imported only when plotting).

* :func:`heatmaps`: a grid of pure interaction tables, genotypes on the axes, one diverging
  colour scale shared by every panel, the held-out P in each title;
* :func:`interaction_arcs`: loci on a bp axis across chromosomes, each pair an arc between its
  loci coloured by -log10 P;
* :func:`manhattan`: one value per locus along the genome (best -log10 P of a scan, best score
  of an export);
* :func:`selection_path`: a sparse fit's validation loss along each penalty path (main effects,
  pairs, relaxation), the chosen point marked; :func:`training_curve` for gradient fits.

Every function takes plain frames/arrays and writes one PNG atomically.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from genoattn.atomic import atomic_path

STYLE = {
    "font.size": 9,
    "axes.titlesize": 9,
    "axes.labelsize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "figure.dpi": 110,
    "savefig.dpi": 130,
}
DIVERGING = "RdBu_r"  # effects: blue below, red above the additive expectation
SEQUENTIAL = "viridis"  # -log10 P
MISSING_GREY = "0.85"


@dataclass
class Heatmap:
    """One pair's pure interaction table (rows: genotypes of locus A, columns: of locus B).

    values: shape (len(labels_a), len(labels_b)), NaN where the genotype combination was never
    observed in the training samples.
    """

    title: str
    labels_a: list[str]
    labels_b: list[str]
    id_a: str
    id_b: str
    values: np.ndarray
    p: float | None  # held-out P


def _pyplot():
    """matplotlib's pyplot on the non-interactive Agg backend, with the house style."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update(STYLE)
    return plt


def _save(fig, path: Path) -> Path:
    """Write a figure as PNG atomically and close it."""
    import matplotlib.pyplot as plt

    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", bbox_inches="tight")
    plt.close(fig)
    return path


def _fmt_p(p: float | None) -> str:
    return "held-out P = NA" if p is None or not np.isfinite(p) else f"held-out P = {p:.2g}"


def heatmaps(panels: list[Heatmap], path: Path, unit: str = "trait", ncols: int = 3) -> Path:
    """A grid of interaction heatmaps on one shared, symmetric diverging colour scale."""
    plt = _pyplot()
    k = max(len(panels), 1)
    ncols = min(ncols, k)
    nrows = -(-k // ncols)
    fig, axes = plt.subplots(
        nrows, ncols, figsize=(3.1 * ncols + 1.0, 2.9 * nrows + 0.6), squeeze=False,
        layout="constrained",
    )  # fmt: skip
    finite = [np.abs(h.values[np.isfinite(h.values)]) for h in panels]
    lim = max([float(f.max()) for f in finite if f.size] + [1e-12])
    cmap = plt.get_cmap(DIVERGING).copy()
    cmap.set_bad(MISSING_GREY)
    im = None
    for ax, h in zip(axes.flat, panels, strict=False):
        v = np.ma.masked_invalid(h.values)
        im = ax.imshow(v, cmap=cmap, vmin=-lim, vmax=lim, aspect="auto")
        ax.set_xticks(range(len(h.labels_b)), h.labels_b)
        ax.set_yticks(range(len(h.labels_a)), h.labels_a)
        ax.set_xlabel(h.id_b)
        ax.set_ylabel(h.id_a)
        ax.set_title(f"{h.title}\n{_fmt_p(h.p)}")
        for (r, c), x in np.ndenumerate(h.values):
            # round-off of the double centring (|x| ~ 1e-9) prints as 0
            text = "n/a" if not np.isfinite(x) else "0" if abs(x) < 1e-6 * lim else f"{x:.2g}"
            dark = np.isfinite(x) and abs(x) > 0.6 * lim
            ax.text(c, r, text, ha="center", va="center", fontsize=7,
                    color="white" if dark else "black")  # fmt: skip
        ax.spines[:].set_visible(False)
        # thin cell borders: near-zero cells are near-white and would merge into the page
        ax.set_xticks(np.arange(len(h.labels_b) + 1) - 0.5, minor=True)
        ax.set_yticks(np.arange(len(h.labels_a) + 1) - 0.5, minor=True)
        ax.grid(which="minor", color="0.75", lw=0.6)
        ax.tick_params(which="minor", length=0)
    for ax in list(axes.flat)[len(panels) :]:
        ax.axis("off")
    if not panels:
        axes[0, 0].text(0.5, 0.5, "no interactions to show", ha="center", va="center")
    if im is not None:
        label = f"pure interaction effect ({'log-odds' if unit == 'log-odds' else 'trait units'})"
        fig.colorbar(im, ax=axes, shrink=0.8, label=label)
    fig.suptitle(
        "Pure interaction effects (main effects removed)   grey n/a: genotype combination "
        "not observed in the training samples",
        fontsize=8,
    )
    return _save(fig, path)


def _genome_axis(loci: pl.DataFrame):
    """Cumulative bp offset of each chromosome (in the loci's order) and its [start, end]."""
    spans = loci.group_by("chrom", maintain_order=True).agg(
        pl.col("pos").min().alias("lo"), pl.col("pos").max().alias("hi")
    )
    offset, x0 = {}, 0.0
    gap = 0.02 * float((spans["hi"] - spans["lo"]).sum() or 1)
    bands = []
    for chrom, lo, hi in spans.iter_rows():
        offset[str(chrom)] = x0 - lo
        bands.append((str(chrom), x0, x0 + hi - lo))
        x0 += hi - lo + gap
    return offset, bands


def _chrom_bands(ax, bands) -> None:
    for j, (_chrom, a, b) in enumerate(bands):
        if j % 2:
            ax.axvspan(a, b, color="0.95", zorder=0)
    ax.set_xticks([(a + b) / 2 for _, a, b in bands], [c for c, _, _ in bands])
    ax.set_xlabel("chromosome (loci on a bp scale)")


def interaction_arcs(
    pairs: pl.DataFrame,
    loci: pl.DataFrame,
    path: Path,
    label: int = 5,
    cbar: str = "−log10 held-out P",
) -> Path:
    """Genome-wide interaction plot: one arc per pair, coloured by ``LOG10P``.

    pairs: CHROM_A, POS_A, ID_A, CHROM_B, POS_B, ID_B, LOG10P (NA drawn grey); loci: the
    cohort's chrom/pos (sets the axis). The ``label`` best pairs are named at their apex.
    """
    from matplotlib.patches import Arc

    plt = _pyplot()
    offset, bands = _genome_axis(loci)
    total = max(bands[-1][2] if bands else 1.0, 1.0)
    fig, ax = plt.subplots(figsize=(10, 3.6), layout="constrained")
    _chrom_bands(ax, bands)
    lp = pairs["LOG10P"].cast(pl.Float64).fill_null(float("nan")).to_numpy()
    vmax = max(float(np.nanmax(lp)) if np.isfinite(lp).any() else 1.0, 1.0)
    cmap = plt.get_cmap(SEQUENTIAL)
    order = np.argsort(np.nan_to_num(lp, nan=-1.0))  # strongest drawn last, on top
    rows = pairs.rows(named=True)
    best = {int(i): j for j, i in enumerate(order[::-1][:label])}
    xs = []
    for i in order:
        r = rows[i]
        xa = offset[str(r["CHROM_A"])] + r["POS_A"]
        xb = offset[str(r["CHROM_B"])] + r["POS_B"]
        mid, span = (xa + xb) / 2, max(abs(xb - xa), 1e-3 * total)
        h = 0.15 + 0.85 * np.sqrt(span / total)  # short cis arcs stay visible
        c = "0.6" if not np.isfinite(lp[i]) else cmap(lp[i] / vmax)
        ax.add_patch(Arc((mid, 0), span, 2 * h, theta1=0, theta2=180, color=c, lw=1.6))
        xs += [xa, xb]
        if i in best:  # named at the apex, staggered so that neighbours do not overlap
            ax.annotate(f"{r['ID_A']}×{r['ID_B']}", (mid, h), xytext=(0, 2 + 9 * best[i]),
                        textcoords="offset points", ha="center", va="bottom", fontsize=7,
                        arrowprops={"arrowstyle": "-", "lw": 0.4, "color": "0.4"})  # fmt: skip
    ax.plot(xs, np.zeros(len(xs)), "|", color="black", ms=8)
    if pairs.height == 0:
        ax.text(0.5, 0.5, "no interactions to show", ha="center", transform=ax.transAxes)
    ax.set_xlim(-0.01 * total, total * 1.01)
    ax.set_ylim(-0.05, 1.25 + 0.05 * label)
    ax.set_yticks([])
    ax.spines["left"].set_visible(False)
    sm = plt.cm.ScalarMappable(cmap=cmap, norm=plt.Normalize(0, vmax))
    fig.colorbar(sm, ax=ax, label=cbar, shrink=0.9)
    ax.set_title(f"Interacting locus pairs ({pairs.height}); arc height grows with distance")
    return _save(fig, path)


def manhattan(
    points: pl.DataFrame,
    loci: pl.DataFrame,
    path: Path,
    ylabel: str,
    threshold: float | None = None,
    title: str = "",
) -> Path:
    """One value per locus against its genome position (columns chrom, pos, id, value).

    ``threshold``: a horizontal dashed line (e.g. the Bonferroni -log10 P).
    """
    plt = _pyplot()
    offset, bands = _genome_axis(loci)
    fig, ax = plt.subplots(figsize=(10, 3.2), layout="constrained")
    _chrom_bands(ax, bands)
    for j, (chrom, part) in enumerate(points.group_by("chrom", maintain_order=True)):
        x = offset[str(chrom[0])] + part["pos"].to_numpy().astype(float)
        ax.scatter(x, part["value"].to_numpy(), s=10, color=("#1f4e79", "#6fa8dc")[j % 2])
    top = points.sort("value", descending=True, nulls_last=True).head(5)
    for r in top.iter_rows(named=True):
        ax.annotate(r["id"], (offset[str(r["chrom"])] + r["pos"], r["value"]), fontsize=7,
                    xytext=(3, 3), textcoords="offset points")  # fmt: skip
    if threshold is not None:
        ax.axhline(threshold, ls="--", color="firebrick", lw=1, label="Bonferroni 0.05")
        ax.legend(loc="upper right", frameon=False)
    if points.height == 0:
        ax.text(0.5, 0.5, "nothing to show (no interactions)", ha="center",
                transform=ax.transAxes)  # fmt: skip
    if bands:
        ax.set_xlim(bands[0][1], bands[-1][2])
    ax.set_ylabel(ylabel)
    ax.set_ylim(bottom=0)
    ax.set_title(title)
    return _save(fig, path)


def selection_path(selection: pl.DataFrame, path: Path) -> Path:
    """Validation loss along each stage of a sparse fit's selection (stage, lam, gamma, val_loss).

    One panel per stage: main effects and pairs against their penalty lambda (log scale, larger
    lambda = sparser model), relaxation against gamma; the minimum of each is marked.
    """
    plt = _pyplot()
    stages = selection["stage"].unique(maintain_order=True).to_list()
    fig, axes = plt.subplots(
        1, len(stages), figsize=(3.4 * len(stages), 2.9), squeeze=False, layout="constrained"
    )
    for ax, stage in zip(axes[0], stages, strict=True):
        part = selection.filter(pl.col("stage") == stage)
        relax = stage == "relax"
        x = part["gamma" if relax else "lam"].to_numpy().astype(float)
        y = part["val_loss"].to_numpy().astype(float)
        o = np.argsort(x)
        ax.plot(x[o], y[o], "o-", ms=3, color="#1f4e79")
        best = int(np.nanargmin(y))
        what = f"γ = {x[best]:.3g}" if relax else f"λ = {x[best]:.3g}"
        if stage == "pairs" and "n_pairs" in part.columns:
            what += f", {part['n_pairs'][best]} pairs"
        ax.plot(x[best], y[best], "*", ms=13, color="firebrick", label=f"chosen: {what}")
        if not relax and (x > 0).all():
            ax.set_xscale("log")
        ax.set_xlabel("relaxation γ (penalty × γ)" if relax else "penalty λ")
        ax.set_title(
            {"main": "main effects", "pairs": "pair groups", "relax": "relaxed refit"}.get(
                stage, stage
            )
        )
        ax.legend(frameon=False)
    axes[0, 0].set_ylabel("validation loss")
    fig.suptitle("Sparse fit: model selection on the validation samples")
    return _save(fig, path)


def training_curve(history: pl.DataFrame, path: Path) -> Path:
    """Training and validation loss over epochs (gradient fits)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 3), layout="constrained")
    x = history[history.columns[0]].to_numpy()
    for col in ("train_loss", "val_loss"):
        if col in history.columns:
            ax.plot(x, history[col].to_numpy(), label=col.replace("_", " "))
    ax.set_xlabel(history.columns[0])
    ax.set_ylabel("loss")
    ax.legend(frameon=False)
    return _save(fig, path)

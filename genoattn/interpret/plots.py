"""PNG plots of an export: interaction heatmaps, score along the genome, training curves."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from genoattn.atomic import atomic_path


def _save(fig, path: Path) -> Path:
    """Write a figure as PNG atomically."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, bbox_inches="tight")
    return path


def _pyplot():
    """matplotlib's pyplot on the non-interactive Agg backend (imported only when plotting)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def heatmaps(
    table: pl.DataFrame,
    tables: np.ndarray,
    labels: list[tuple[list[str], list[str]]],
    path: Path,
    n: int = 6,
) -> Path:
    """Pure interaction tables of the top ``n`` pairs as heatmaps (rows: states of locus a)."""
    plt = _pyplot()
    k = min(n, len(tables))
    fig, axes = plt.subplots(
        1, max(k, 1), figsize=(4.0 * max(k, 1), 3.4), squeeze=False, layout="constrained"
    )
    for i in range(k):
        ax = axes[0, i]
        la, lb = labels[i]
        t = tables[i][: len(la), : len(lb)]
        lim = float(np.abs(t).max()) or 1.0
        im = ax.imshow(t, cmap="RdBu_r", vmin=-lim, vmax=lim)
        ax.set_xticks(range(len(lb)), lb)
        ax.set_yticks(range(len(la)), la)
        ax.set_xlabel(table["id_b"][i])
        ax.set_ylabel(table["id_a"][i])
        ax.set_title(f"#{i + 1}  score {table['score'][i]:.3g}", fontsize=9)
        fig.colorbar(im, ax=ax, fraction=0.046)
    if k == 0:
        axes[0, 0].text(0.5, 0.5, "no interactions", ha="center")
    fig.suptitle("pure interaction effect (trait units)")
    _save(fig, path)
    plt.close(fig)
    return path


def manhattan(by_locus: pl.DataFrame, path: Path) -> Path:
    """Best interaction score of each locus against its position, chromosomes side by side."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(9, 3))
    x0 = 0
    ticks = []
    for j, (chrom, part) in enumerate(
        by_locus.sort("chrom", "pos").group_by("chrom", maintain_order=True)
    ):
        pos = part["pos"].to_numpy().astype(float)
        ax.scatter(x0 + pos, part["score"].to_numpy(), s=8, color=("C0", "C1")[j % 2])
        ticks.append((x0 + (pos.min() + pos.max()) / 2, str(chrom[0])))
        x0 += pos.max() + 1
    if ticks:
        ax.set_xticks([t[0] for t in ticks], [t[1] for t in ticks])
    ax.set_xlabel("chromosome")
    ax.set_ylabel("best interaction score")
    _save(fig, path)
    plt.close(fig)
    return path


def training_curve(history: pl.DataFrame, path: Path) -> Path:
    """Validation (and training) loss over epochs or along the penalty path."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 3))
    x = history[history.columns[0]].to_numpy()
    for col in ("train_loss", "val_loss"):
        if col in history.columns:
            ax.plot(x, history[col].to_numpy(), label=col.replace("_", " "))
    ax.set_xlabel(history.columns[0])
    ax.set_ylabel("loss")
    ax.legend()
    _save(fig, path)
    plt.close(fig)
    return path

"""Genotype activation task (Ustaomeroglu & Qu 2025): allele m is active iff one of its activators
is present in the sequence.

Axis legend: b samples, l loci (entities), a alleles per locus, s = l * a domain size.

A sample carries one allele at each of L loci; token m = locus * a + allele. Every allele m has an
activator locus b(m) != locus(m) and a non-empty, proper subset A_m of the alleles at b(m). Entity i
(token m) is active, t_i = 1, iff the allele present at b(m) lies in A_m. Since a sample holds
exactly one allele per locus, "one of the activators is present" is a sum of pairwise terms,

    t_i = sum_{j != i} G[y_i, y_j],      G[m, n] = 1{n in A_m},

which is exactly the form of SA_lin with the per-entity readout out_i = sum_{j != i} C_{y_i y_j}
w_{y_j} (one-hot embedding). The structure is read off the learned invariant F = C diag(w).

Identifiability: within a block F[m, alleles of locus b] only contrasts are identified, because
the alleles of one locus always sum to one (adding c_b to a block and subtracting it elsewhere
leaves every prediction unchanged). The recovered activator locus of m is therefore the block
with the largest contrast range, and A_m the alleles of that block above the block's midpoint.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from genoattn.bench.colliding import invariant, readout_from_invariant, train_sa_lin
from genoattn.bench.common import (
    markdown_table,
    new_figure,
    save_figure,
    seed_everything,
    timer,
    write_outputs,
)


@dataclass(frozen=True)
class ActivationSettings:
    n_loci: int = 20
    n_alleles: int = 4
    n_train: int = 20_000
    n_test: int = 5_000
    steps: int = 2_000
    batch: int = 1_000
    lr: float = 3e-2

    @classmethod
    def for_mode(cls, quick: bool) -> ActivationSettings:
        if quick:
            return cls(n_loci=8, n_alleles=3, n_train=2_000, n_test=1_000, steps=800, batch=500)
        return cls()


@dataclass(frozen=True)
class ActivationTruth:
    """Planted structure: activator locus per token, int64 (s,); G[m, n] = 1{n in A_m}, (s, s)."""

    n_loci: int
    n_alleles: int
    activator_locus: np.ndarray
    g: np.ndarray


def plant_activators(rng: np.random.Generator, n_loci: int, n_alleles: int) -> ActivationTruth:
    """Draw b(m) uniformly among the other loci and A_m of size 1..a-1 uniformly at random."""
    s = n_loci * n_alleles
    g = np.zeros((s, s))
    act_locus = np.empty(s, dtype=np.int64)
    for m in range(s):
        others = [b for b in range(n_loci) if b != m // n_alleles]
        b = int(rng.choice(others))
        size = int(rng.integers(1, n_alleles))
        chosen = rng.choice(n_alleles, size=size, replace=False)
        g[m, b * n_alleles + chosen] = 1.0
        act_locus[m] = b
    return ActivationTruth(n_loci, n_alleles, act_locus, g)


def sample_tokens(rng: np.random.Generator, n: int, truth: ActivationTruth) -> np.ndarray:
    """One uniform allele per locus: tokens int64 (n, l), token = locus * a + allele."""
    alleles = rng.integers(0, truth.n_alleles, size=(n, truth.n_loci))
    return alleles + truth.n_alleles * np.arange(truth.n_loci)[None, :]


def activation_targets(tokens: np.ndarray, truth: ActivationTruth) -> np.ndarray:
    """t_i = 1{the allele at b(y_i) is in A_{y_i}}; tokens (b, l) -> float64 (b, l) in {0, 1}."""
    b_loc = truth.activator_locus[tokens]  # (b, l)
    partner = np.take_along_axis(tokens, b_loc, axis=1)  # token present at the activator locus
    return truth.g[tokens, partner]


def recover_structure(f: np.ndarray, truth: ActivationTruth) -> dict[str, Any]:
    """Read activator loci and sets off F (s, s); compare with the planted truth."""
    a, n_loci = truth.n_alleles, truth.n_loci
    blocks = f.reshape(len(f), n_loci, a)  # (s, l, a): F[m, alleles of locus b]
    centred = blocks - blocks.mean(-1, keepdims=True)
    g_centred = truth.g.reshape(len(f), n_loci, a)
    g_centred = g_centred - g_centred.mean(-1, keepdims=True)
    own = np.arange(len(f)) // a
    valid = np.ones((len(f), n_loci), dtype=bool)
    valid[np.arange(len(f)), own] = False  # own-locus block never observed
    spread = np.where(valid, centred.max(-1) - centred.min(-1), -np.inf)
    found_locus = spread.argmax(-1)
    pick = blocks[np.arange(len(f)), found_locus]  # (s, a)
    mid = 0.5 * (pick.max(-1, keepdims=True) + pick.min(-1, keepdims=True))
    found_set = pick > mid
    true_set = truth.g.reshape(len(f), n_loci, a)[np.arange(len(f)), truth.activator_locus] > 0
    locus_ok = found_locus == truth.activator_locus
    exact = locus_ok & (found_set == true_set).all(-1)
    err = np.abs(centred - g_centred)[valid]
    return {
        "activator_locus_recovered": float(locus_ok.mean()),
        "activator_set_recovered": float(exact.mean()),
        "contrast_max_abs_error": float(err.max()),
        "contrast_rms_error": float(np.sqrt((err**2).mean())),
    }


def run_activation(quick: bool, out_dir: Path, seed: int = 0) -> dict[str, Any]:
    """Plant activators, train SA_lin on (tokens, activation) pairs, score predictions and F."""
    import torch

    cfg = ActivationSettings.for_mode(quick)
    rng = seed_everything(seed)
    truth = plant_activators(rng, cfg.n_loci, cfg.n_alleles)
    s = cfg.n_loci * cfg.n_alleles
    y_tr, y_te = sample_tokens(rng, cfg.n_train, truth), sample_tokens(rng, cfg.n_test, truth)
    t_tr, t_te = activation_targets(y_tr, truth), activation_targets(y_te, truth)
    with timer() as tt:
        c, w, curve = train_sa_lin(y_tr, t_tr, np.eye(s), cfg.steps, cfg.batch, cfg.lr, seed)
    f = invariant(np.eye(s), c, w)
    pred = readout_from_invariant(torch.as_tensor(f), torch.as_tensor(y_te)).numpy()
    # No-interaction baseline: each token's training activation rate, thresholded at 1/2.
    rate = np.bincount(y_tr.ravel(), weights=t_tr.ravel(), minlength=s) / np.maximum(
        np.bincount(y_tr.ravel(), minlength=s), 1
    )
    base = rate[y_te]
    results = {
        "test_accuracy": float(((pred > 0.5) == (t_te > 0.5)).mean()),
        "test_mse": float(((pred - t_te) ** 2).mean()),
        "baseline_accuracy": float(((base > 0.5) == (t_te > 0.5)).mean()),
        "baseline_mse": float(((base - t_te) ** 2).mean()),
        "active_fraction": float(t_te.mean()),
        "train_seconds": tt["s"],
        "final_train_loss": curve[-1][1],
        "loss_curve": curve,
        **recover_structure(f, truth),
    }
    header = ["model", "test acc", "test MSE", "activator locus ok", "activator set ok"]
    header.append("max contrast err")
    rows = [
        [
            "SA_lin (one-hot)",
            results["test_accuracy"],
            results["test_mse"],
            results["activator_locus_recovered"],
            results["activator_set_recovered"],
            results["contrast_max_abs_error"],
        ],
        ["per-token rate (no interaction)", results["baseline_accuracy"], results["baseline_mse"]]
        + ["", "", ""],
    ]
    table_md = markdown_table(header, rows)
    _plot(f, truth, out_dir)
    settings = {**asdict(cfg), "quick": quick, "seed": seed}
    return write_outputs(out_dir, "genotype-activation", settings, results, table_md)


def _plot(f: np.ndarray, truth: ActivationTruth, out_dir: Path) -> None:
    a = truth.n_alleles
    blocks = f.reshape(len(f), truth.n_loci, a)
    centred = (blocks - blocks.mean(-1, keepdims=True)).reshape(f.shape)
    g = truth.g.reshape(len(f), truth.n_loci, a)
    g_centred = (g - g.mean(-1, keepdims=True)).reshape(f.shape)
    fig, axes = new_figure(ncols=2, width=4.4)
    for ax, mat, title in (
        (axes[0], g_centred, "planted G (block-centred)"),
        (axes[1], centred, "learned C w (block-centred)"),
    ):
        ax.imshow(mat, cmap="coolwarm", vmin=-1, vmax=1)
        ax.set_title(title)
        ax.set_xlabel("activator token n")
        ax.set_ylabel("allele token m")
    save_figure(fig, out_dir / "structure.png")

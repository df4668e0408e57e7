"""Colliding agents (Ustaomeroglu & Qu 2025, length-generalisation experiment).

Axis legend: b samples, l agents (entities), s = N domain size (grid rows), d embedding dim (= N).

L agents on a cylindrical N x N grid (the y axis wraps) are disks of radius R moving right, so two
agents collide iff their rows are within 2R circularly. Each agent's value counts its collisions,

    V_i = - sum_{j != i} 1{ circ|y_i - y_j| <= 2R }.

The model is SA_lin with the paper's per-entity readout,

    out_i = sum_{j != i} (x_i^T C x_j) (w^T x_j),

with a full (d, d) matrix C and a vector w. The target sums over j != i, so the model does too: the
self term (x_i^T C x_i)(w^T x_i) is subtracted from the linear-attention sum (``linear_attention``
sums over all j). With an embedding of a finite domain (one-hot, or the orthonormal Fourier basis
used as the sinusoidal embedding) the model only depends on the invariant

    F[m, n] = (e_m^T C e_n) (w^T e_n),      e_m the embedding of row m,

which is identified by the data, while C and w individually are not (C_mn -> C_mn / a_n,
w_n -> a_n w_n leaves F unchanged). The ground truth is F*[m, n] = -1{circ|m - n| <= 2R}. F[m, m]
(the diagonal) is seen in training only when two agents share a row; if training tuples never repeat
an element it is never constrained, and test sequences with repeated rows (more frequent as L
grows) are mispredicted: the paper's counterexample to length generalisation.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from genoattn.bench.common import (
    markdown_table,
    new_figure,
    save_figure,
    seed_everything,
    timer,
    write_outputs,
)


@dataclass(frozen=True)
class CollidingSettings:
    """Sizes and optimiser settings; ``quick`` shrinks the paper's N = 360, R = 5, B = 100k."""

    n_grid: int = 360
    radius: int = 5
    train_len: int = 20
    n_train: int = 100_000
    test_lens: tuple[int, ...] = (2, 5, 10, 20, 30, 40)
    n_test: int = 2_000
    steps: int = 2_500
    batch: int = 1_000
    lr: float = 3e-2
    embeddings: tuple[str, ...] = ("onehot", "sinusoidal")
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def for_mode(cls, quick: bool) -> CollidingSettings:
        if quick:
            return cls(n_grid=60, radius=2, n_train=3_000, n_test=500, steps=1_500, batch=500)
        return cls()


def sample_rows(rng: np.random.Generator, n: int, length: int, n_grid: int, distinct: bool):
    """Rows y of ``n`` samples of ``length`` agents, int64 (n, length); distinct => no repeats."""
    if not distinct:
        return rng.integers(0, n_grid, size=(n, length))
    out = np.empty((n, length), dtype=np.int64)
    for start in range(0, n, 4096):  # chunked: a (chunk, N) key matrix per step
        keys = rng.random((min(4096, n - start), n_grid))
        out[start : start + len(keys)] = np.argpartition(keys, length - 1, axis=1)[:, :length]
    return out


def collision_matrix(n_grid: int, radius: int) -> np.ndarray:
    """Ground-truth invariant F*[m, n] = -1{circ|m - n| <= 2R}, float64 (N, N)."""
    idx = np.arange(n_grid)
    diff = np.abs(idx[:, None] - idx[None, :])
    circ = np.minimum(diff, n_grid - diff)
    return -(circ <= 2 * radius).astype(np.float64)


def collision_values(y: np.ndarray, n_grid: int, radius: int) -> np.ndarray:
    """Targets V_i = -sum_{j != i} 1{circ|y_i - y_j| <= 2R}; y int (b, l) -> float64 (b, l)."""
    diff = np.abs(y[:, :, None] - y[:, None, :])
    hit = np.minimum(diff, n_grid - diff) <= 2 * radius
    return -(hit.sum(axis=2) - 1).astype(np.float64)  # -1: every agent "collides" with itself


def embedding_table(kind: str, n_grid: int) -> np.ndarray:
    """Row embeddings, float64 (N, d = N): identity, or the orthonormal real Fourier basis."""
    if kind == "onehot":
        return np.eye(n_grid)
    if kind != "sinusoidal":
        raise ValueError(f"unknown embedding {kind!r}")
    y = np.arange(n_grid)[:, None]
    cols = [np.full((n_grid, 1), 1.0 / math.sqrt(n_grid))]
    for k in range(1, (n_grid + 1) // 2):
        ang = 2 * math.pi * k * y / n_grid
        cols += [math.sqrt(2.0 / n_grid) * np.cos(ang), math.sqrt(2.0 / n_grid) * np.sin(ang)]
    if n_grid % 2 == 0:
        cols.append(np.cos(math.pi * y) / math.sqrt(n_grid))
    return np.concatenate(cols, axis=1)


def sa_lin_per_entity(x, c, w):
    """SA_lin per-entity readout out_i = sum_{j != i} (x_i^T C x_j)(w^T x_j), via linear_attention.

    x float (b, l, d), c (d, d), w (d,) -> (b, l). The self term is subtracted from the full sum.
    """
    from genoattn.models.kernels import linear_attention

    q = x @ c  # (b, l, d)
    v = (x @ w).unsqueeze(-1)  # (b, l, 1)
    full = linear_attention(q, x, v).squeeze(-1)  # sum over all j, (b, l)
    self_term = (q * x).sum(-1) * v.squeeze(-1)
    return full - self_term


def invariant(table, c, w):
    """F[m, n] = (e_m^T C e_n)(w^T e_n): table (N, d), c (d, d), w (d,) -> (N, N)."""
    return (table @ c @ table.T) * (table @ w)[None, :]


def readout_from_invariant(f, y):
    """out_i = sum_{j != i} F[y_i, y_j]; f (N, N), y long (b, l) -> (b, l).

    Equal to :func:`sa_lin_per_entity` on x = table[y], at O(b l^2) cost instead of O(b l d^2).
    """
    pair = f[y[:, :, None], y[:, None, :]]  # (b, l, l)
    return pair.sum(-1) - pair.diagonal(dim1=1, dim2=2)


def train_sa_lin(y, target, table, steps: int, batch: int, lr: float, seed: int):
    """Fit C, w of the per-entity SA_lin readout by Adam (one-cycle schedule) on the MSE.

    y int (b, l) row/token ids, target float (b, l), table float (N, d) embedding rows.
    Returns C (d, d), w (d,) as float64 numpy arrays and the loss curve [(step, batch MSE)].
    """
    import torch

    gen = torch.Generator().manual_seed(seed)
    dim = table.shape[1]
    tab = torch.as_tensor(table, dtype=torch.float64)
    # C small and w drawn away from 1, so the rescaling symmetry C_mn w_n is visible in the result.
    c = (0.01 * torch.randn(dim, dim, generator=gen, dtype=torch.float64)).requires_grad_()
    # w drawn in row coordinates away from 1 (so the rescaling symmetry C_mn w_n shows in the
    # result), then rotated into the embedding's coordinates: the same initial function for any
    # orthonormal table.
    w_rows = 0.5 + 1.5 * torch.rand(table.shape[0], generator=gen, dtype=torch.float64)
    w = (tab.T @ w_rows).requires_grad_()
    yt = torch.as_tensor(y)
    tt = torch.as_tensor(target)
    opt = torch.optim.Adam([c, w], lr=lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
    curve = []
    for step in range(steps):
        idx = torch.randint(0, len(yt), (batch,), generator=gen)
        pred = readout_from_invariant(invariant(tab, c, w), yt[idx])
        loss = ((pred - tt[idx]) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % max(1, steps // 50) == 0 or step == steps - 1:
            curve.append((step, float(loss.detach())))
    return c.detach().numpy(), w.detach().numpy(), curve


def _evaluate(c, w, table, cfg: CollidingSettings, rng: np.random.Generator) -> dict[str, Any]:
    import torch

    f = torch.as_tensor(invariant(table, c, w))
    per_len = {}
    for length in cfg.test_lens:
        y = sample_rows(rng, cfg.n_test, length, cfg.n_grid, distinct=False)
        t = collision_values(y, cfg.n_grid, cfg.radius)
        pred = readout_from_invariant(f, torch.as_tensor(y)).numpy()
        per_len[length] = {"mse": float(np.mean((pred - t) ** 2)), "target_var": float(t.var())}
    return per_len


def _distances(c, w, table, truth: np.ndarray) -> dict[str, float]:
    f = invariant(table, c, w)
    n = len(truth)
    off = ~np.eye(n, dtype=bool)
    c_rows = table @ c @ table.T  # raw C in row coordinates; truth with w* = 1 is C* = F*
    return {
        "invariant_max_abs_offdiag": float(np.abs(f - truth)[off].max()),
        "invariant_max_abs_diag": float(np.abs(np.diag(f) - np.diag(truth)).max()),
        "invariant_rel_fro": float(np.linalg.norm(f - truth) / np.linalg.norm(truth)),
        "raw_c_rel_fro": float(np.linalg.norm(c_rows - truth) / np.linalg.norm(truth)),
        "w_row_min": float((table @ w).min()),
        "w_row_max": float((table @ w).max()),
    }


def run_colliding(quick: bool, out_dir: Path, seed: int = 0) -> dict[str, Any]:
    """Train SA_lin at L* on random and on repeat-free tuples; test at every L; write outputs."""
    cfg = CollidingSettings.for_mode(quick)
    rng = seed_everything(seed)
    truth = collision_matrix(cfg.n_grid, cfg.radius)
    runs: dict[str, Any] = {}
    variants = [(emb, False) for emb in cfg.embeddings] + [("onehot", True)]
    with timer() as total:
        for emb, distinct in variants:
            name = f"{emb}{'-distinct' if distinct else ''}"
            table = embedding_table(emb, cfg.n_grid)
            y = sample_rows(rng, cfg.n_train, cfg.train_len, cfg.n_grid, distinct=distinct)
            t = collision_values(y, cfg.n_grid, cfg.radius)
            with timer() as tt:
                c, w, curve = train_sa_lin(y, t, table, cfg.steps, cfg.batch, cfg.lr, seed)
            runs[name] = {
                "embedding": emb,
                "train_distinct": distinct,
                "train_seconds": tt["s"],
                "final_train_loss": curve[-1][1],
                "loss_curve": curve,
                "test": _evaluate(c, w, table, cfg, np.random.default_rng(seed + 1)),
                **_distances(c, w, table, truth),
            }
    header = ["model", *[f"MSE L={n}" for n in cfg.test_lens], "|F-F*|max off", "|F-F*|max diag"]
    header += ["rel|C-C*|"]
    rows = []
    for name, r in runs.items():
        mses = [r["test"][n]["mse"] for n in cfg.test_lens]
        rows.append([name, *mses, r["invariant_max_abs_offdiag"], r["invariant_max_abs_diag"]])
        rows[-1].append(r["raw_c_rel_fro"])
    var = {n: runs["onehot"]["test"][n]["target_var"] for n in cfg.test_lens}
    rows.append(["(target variance)", *var.values(), "", "", ""])
    table_md = markdown_table(header, rows)
    _plot(runs, cfg, truth, out_dir)
    settings = {**asdict(cfg), "quick": quick, "seed": seed, "total_seconds": total["s"]}
    return write_outputs(out_dir, "colliding-agents", settings, runs, table_md)


def _plot(runs: dict[str, Any], cfg: CollidingSettings, truth: np.ndarray, out_dir: Path) -> None:
    fig, (ax,) = new_figure()
    for name, r in runs.items():
        ax.semilogy(cfg.test_lens, [r["test"][n]["mse"] for n in cfg.test_lens], "o-", label=name)
    ax.axvline(cfg.train_len, color="grey", ls=":", label="train L*")
    ax.set_xlabel("number of agents L")
    ax.set_ylabel("test MSE")
    ax.set_title(f"colliding agents N={cfg.n_grid} R={cfg.radius}")
    ax.legend(fontsize=8)
    save_figure(fig, out_dir / "mse_vs_length.png")

    fig, axes = new_figure(ncols=2, width=4.2)
    axes[0].imshow(truth, cmap="coolwarm", vmin=-1.5, vmax=1.5)
    axes[0].set_title("ground truth F*")
    loss = runs["onehot"]["loss_curve"]
    axes[1].semilogy([s for s, _ in loss], [v for _, v in loss], label="onehot")
    loss = runs["onehot-distinct"]["loss_curve"]
    axes[1].semilogy([s for s, _ in loss], [v for _, v in loss], label="onehot-distinct")
    axes[1].set_xlabel("step")
    axes[1].set_ylabel("train MSE")
    axes[1].legend(fontsize=8)
    save_figure(fig, out_dir / "truth_and_training.png")

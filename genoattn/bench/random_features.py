"""Random-feature attention against a random-feature MLP (Fu, Guo, Bai, Mei 2023).

Axis legend: n samples, k keys per sample, d token dim (d + 1 with the constant coordinate),
m attention random features (heads), p = m * (d + 1) trainable coefficients (both models get the
same p).

Inputs: a query x_0 and keys x_1..x_k, all uniform on the unit sphere S^{d-1}. Targets are
permutation-invariant in the keys, f*(X) = (1/k) sum_i F(z_i) with z_i = sqrt(d) <x_0, x_i>
(z_i is ~N(0, 1) for large d):

* ``quadratic``: F(z) = z^2 - 1;
* ``cubic``: F(z) = (z^3 - 3 z) / sqrt(6)  (the third Hermite polynomial).

Tokens enter both models augmented with a constant coordinate, x -> (x, 1) (a bias input). Without
it every RFA feature relu(x_0^T W x_i) v^T x_i splits into a part odd in x_0 and even in x_i and a
part even in x_0 and odd in x_i, so neither target above (even/even and odd/odd) is representable.

Models, both linear in p frozen random features and fitted by ridge regression in closed form
(lambda chosen on a held-out fifth of the training set, then refitted on all of it):

* RFA: phi_{m,:}(X) = (1/k) sum_i relu(x_0^T W_m x_i) x_i (``rfa_features``), W_m (d, d) Gaussian,
  zero-mean (entries N(0, 1)) or biased W_m = sqrt(d) I + N(0, 1) (the paper's W_0 = I, scaled to
  unit-norm tokens: both parts of x_0^T W_m x_i are then O(1));
* RFMLP: p features relu(u_q^T vec(x_0, x_1..x_k)), u_q ~ N(0, I / (k + 1)).

Reported: normalised test MSE (MSE / Var f*) against the number of training samples n.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
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

MODELS = ("RFA zero-mean", "RFA biased", "RFMLP")
TARGETS = ("quadratic", "cubic")


@dataclass(frozen=True)
class RFSettings:
    dim: int = 4
    keys: int = 4
    heads: int = 128
    sample_sizes: tuple[int, ...] = (64, 128, 256, 512, 1024, 2048, 4096, 8192)
    n_test: int = 2_000
    trials: int = 3
    lambdas: tuple[float, ...] = (1e-8, 1e-6, 1e-4, 1e-3, 1e-2, 1e-1, 1.0)

    @classmethod
    def for_mode(cls, quick: bool) -> RFSettings:
        if quick:
            return cls(heads=64, sample_sizes=(128, 512, 2048), trials=1, n_test=1_000)
        return cls()


def sample_inputs(rng: np.random.Generator, n: int, keys: int, dim: int):
    """Query (n, d) and keys (n, k, d), float64, uniform on the unit sphere."""
    x = rng.standard_normal((n, keys + 1, dim))
    x /= np.linalg.norm(x, axis=-1, keepdims=True)
    return x[:, 0], x[:, 1:]


def target(kind: str, x0: np.ndarray, keys: np.ndarray) -> np.ndarray:
    """f*(X) = (1/k) sum_i F(sqrt(d) <x_0, x_i>); x0 (n, d), keys (n, k, d) -> (n,)."""
    z = math.sqrt(x0.shape[-1]) * np.einsum("nd,nkd->nk", x0, keys)
    if kind == "quadratic":
        f = z**2 - 1.0
    elif kind == "cubic":
        f = (z**3 - 3.0 * z) / math.sqrt(6.0)
    else:
        raise ValueError(f"unknown target {kind!r}")
    return f.mean(-1)


def augment(x: np.ndarray) -> np.ndarray:
    """Append the constant coordinate: (..., d) -> (..., d + 1)."""
    return np.concatenate([x, np.ones(x.shape[:-1] + (1,))], axis=-1)


def rfa_design(x0: np.ndarray, keys: np.ndarray, w_qk: np.ndarray) -> np.ndarray:
    """RFA features via ``rfa_features`` on augmented tokens: w_qk (m, d+1, d+1) -> (n, m (d+1))."""
    import torch

    from genoattn.models.kernels import rfa_features

    x0, keys = augment(x0), augment(keys)
    phi = rfa_features(torch.as_tensor(keys), torch.as_tensor(w_qk), query=torch.as_tensor(x0))
    return phi.reshape(len(x0), -1).numpy()


def mlp_design(x0: np.ndarray, keys: np.ndarray, u: np.ndarray) -> np.ndarray:
    """RFMLP features relu(u^T vec X~): x0 (n, d), keys (n, k, d), u (p, (k+1)(d+1)) -> (n, p)."""
    flat = augment(np.concatenate([x0[:, None, :], keys], axis=1)).reshape(len(x0), -1)
    return np.maximum(flat @ u.T, 0.0)


def draw_features(rng: np.random.Generator, model: str, cfg: RFSettings) -> np.ndarray:
    """Frozen random weights: W (m, d+1, d+1) for RFA, u (m (d+1), (k+1)(d+1)) for RFMLP."""
    d = cfg.dim
    if model == "RFMLP":
        u = rng.standard_normal((cfg.heads * (d + 1), (cfg.keys + 1) * (d + 1)))
        return u / math.sqrt(cfg.keys + 1)
    w = rng.standard_normal((cfg.heads, d + 1, d + 1))
    if model == "RFA biased":
        w[:, :d, :d] += math.sqrt(d) * np.eye(d)[None]  # W_0 = I on the sphere coordinates
    return w


def ridge_fit(phi: np.ndarray, y: np.ndarray, lambdas: tuple[float, ...], rng) -> np.ndarray:
    """Ridge weights (p,): lambda (relative to mean feature power) picked on a held-out fifth."""
    n, p = phi.shape
    perm = rng.permutation(n)
    n_val = max(n // 5, 1)
    val, tr = perm[:n_val], perm[n_val:]
    scale = float((phi[tr] ** 2).sum() / max(len(tr), 1) / p) + 1e-300

    def path(rows: np.ndarray):
        # One eigendecomposition serves every lambda: (A + c I)^{-1} = U (S + c)^{-1} U^T.
        evals, evecs = np.linalg.eigh(phi[rows].T @ phi[rows])
        return evals, evecs, evecs.T @ (phi[rows].T @ y[rows])

    def weights(eig, rows: np.ndarray, lam: float) -> np.ndarray:
        evals, evecs, proj = eig
        return evecs @ (proj / (evals + lam * scale * len(rows)))

    eig_tr = path(tr)
    errs = [float(np.mean((phi[val] @ weights(eig_tr, tr, lam) - y[val]) ** 2)) for lam in lambdas]
    rows = np.arange(n)
    return weights(path(rows), rows, lambdas[int(np.argmin(errs))])


def design(model: str, weights: np.ndarray, x0: np.ndarray, keys: np.ndarray) -> np.ndarray:
    if model == "RFMLP":
        return mlp_design(x0, keys, weights)
    return rfa_design(x0, keys, weights)


def run_random_features(quick: bool, out_dir: Path, seed: int = 0) -> dict[str, Any]:
    """Test error vs n for RFA (zero-mean, biased) and RFMLP on each target; write outputs."""
    cfg = RFSettings.for_mode(quick)
    rng = seed_everything(seed)
    n_max = max(cfg.sample_sizes)
    curves: dict[str, dict[str, list[list[float]]]] = {t: {m: [] for m in MODELS} for t in TARGETS}
    with timer() as total:
        for _ in range(cfg.trials):
            x0, keys = sample_inputs(rng, n_max + cfg.n_test, cfg.keys, cfg.dim)
            for model in MODELS:
                phi = design(model, draw_features(rng, model, cfg), x0, keys)
                for kind in TARGETS:
                    y = target(kind, x0, keys)
                    y_te, var = y[n_max:], float(y[n_max:].var())
                    errs = []
                    for n in cfg.sample_sizes:
                        v = ridge_fit(phi[:n], y[:n], cfg.lambdas, rng)
                        errs.append(float(np.mean((phi[n_max:] @ v - y_te) ** 2)) / var)
                    curves[kind][model].append(errs)
    results: dict[str, Any] = {"total_seconds": total["s"], "curves": {}}
    rows = []
    for kind in TARGETS:
        results["curves"][kind] = {}
        for model in MODELS:
            arr = np.asarray(curves[kind][model])  # (trials, len(sample_sizes))
            mean, std = arr.mean(0), arr.std(0)
            results["curves"][kind][model] = {"mean": mean, "std": std, "trials": arr}
            rows.append([kind, model, *mean])
    header = ["target", "model", *[f"n={n}" for n in cfg.sample_sizes]]
    table_md = "Normalised test MSE (MSE / Var f*), mean over trials.\n\n"
    table_md += markdown_table(header, rows)
    _plot(results, cfg, out_dir)
    settings = {**asdict(cfg), "features_per_model": cfg.heads * (cfg.dim + 1), "quick": quick}
    settings["seed"] = seed
    return write_outputs(out_dir, "random-features", settings, results, table_md)


def _plot(results: dict[str, Any], cfg: RFSettings, out_dir: Path) -> None:
    fig, axes = new_figure(ncols=len(TARGETS), width=4.6)
    for ax, kind in zip(axes, TARGETS, strict=True):
        for model in MODELS:
            c = results["curves"][kind][model]
            ax.errorbar(
                cfg.sample_sizes, c["mean"], yerr=c["std"], marker="o", label=model, capsize=2
            )
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("training samples n")
        ax.set_ylabel("test MSE / Var f*")
        ax.set_title(f"{kind} target, p={cfg.heads * (cfg.dim + 1)} features")
        ax.legend(fontsize=8)
    save_figure(fig, out_dir / "test_error_vs_n.png")

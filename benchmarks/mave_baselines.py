"""Baselines of the MAVE benchmark, run as their own process by ``bench_mave.py``.

    python benchmarks/mave_baselines.py {ridge_add,ridge_pair,add_link} DIR

DIR holds ``data.npz`` (written by bench_mave.py): ``x`` (n,) sequences, ``y`` (n,) trait and
``split`` (n,) 0 training / 1 validation / 2 test. Prints one JSON line:
{"r2_val", "r2_test", "alpha", "n_features"}.

* ``ridge_add``: ridge on one-hot additive features (dummy coding against the training consensus
  residue of each position, plus an unpenalised intercept);
* ``ridge_pair``: the same plus every pair feature (position i residue a) x (position j residue b)
  of non-consensus residues seen in >= 3 training sequences; a scipy CSR matrix, solved by
  Jacobi-preconditioned conjugate gradients on the normal equations (never a dense p x p matrix);
* ``add_link``: global epistasis with no specific epistasis: an additive latent u = c + x . w and
  a fitted sigmoid y = a + b sigmoid(u), all parameters by full-batch L-BFGS from the ridge
  solution, L2 penalty on w.

Every regularisation strength is chosen on the validation set (fits use training samples only).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from scipy.sparse.linalg import LinearOperator, cg

MIN_PAIR_COUNT = 3


def r2(y: np.ndarray, p: np.ndarray) -> float:
    return float(1 - ((y - p) ** 2).sum() / ((y - y.mean()) ** 2).sum())


def codes(x: np.ndarray) -> np.ndarray:
    """(n, l) uint8 residue codes of equal-length sequences."""
    return np.frombuffer("".join(x.tolist()).encode(), dtype=np.uint8).reshape(len(x), -1)


def dummy_columns(c: np.ndarray, train: np.ndarray) -> np.ndarray:
    """(n, l) int64 feature index of each (position, residue) against the training consensus,
    -1 for the consensus residue or a residue unseen in training."""
    n, l = c.shape
    out = np.full((n, l), -1, dtype=np.int64)
    k = 0
    for j in range(l):
        vals, counts = np.unique(c[train, j], return_counts=True)
        ref = vals[np.argmax(counts)]
        for v in vals:
            if v != ref:
                out[c[:, j] == v, j] = k
                k += 1
    return out


def additive_matrix(idx: np.ndarray) -> sp.csr_matrix:
    n, _ = idx.shape
    rows, cols = np.nonzero(idx >= 0)
    p = int(idx.max()) + 1 if idx.size else 0
    return sp.csr_matrix((np.ones(len(rows)), (rows, idx[rows, cols])), shape=(n, p))


def pair_matrix(idx: np.ndarray, train: np.ndarray) -> sp.csr_matrix:
    """(n, q) CSR of pair features of non-consensus residues seen in >= MIN_PAIR_COUNT training
    rows; built from each row's few mutated positions, never an (n, l^2 a^2) array."""
    n, l = idx.shape
    p = int(idx.max()) + 1
    keys_per_row = []
    for i in range(n):
        f = idx[i][idx[i] >= 0]
        if len(f) < 2:
            keys_per_row.append(np.zeros(0, dtype=np.int64))
            continue
        a, b = np.triu_indices(len(f), 1)
        keys_per_row.append(f[a] * p + f[b])
    lens = np.array([len(k) for k in keys_per_row])
    keys = np.concatenate(keys_per_row) if lens.sum() else np.zeros(0, dtype=np.int64)
    rows = np.repeat(np.arange(n), lens)
    tr_keys = keys[train[rows]]
    uk, counts = np.unique(tr_keys, return_counts=True)
    kept = uk[counts >= MIN_PAIR_COUNT]
    if len(kept) == 0:  # e.g. a library of single mutants: no pair feature
        return sp.csr_matrix((n, 0))
    pos = np.searchsorted(kept, keys)
    ok = (pos < len(kept)) & (kept[np.minimum(pos, len(kept) - 1)] == keys)
    return sp.csr_matrix((np.ones(int(ok.sum())), (rows[ok], pos[ok])), shape=(n, len(kept)))


def ridge_path(x: sp.csr_matrix, y: np.ndarray, split: np.ndarray) -> dict:
    """Ridge with an unpenalised intercept over a geometric alpha grid; alpha by validation R^2."""
    tr, va, te = (split == k for k in range(3))
    xt = sp.hstack([x[tr], np.ones((int(tr.sum()), 1))]).tocsr()
    yt = y[tr]
    gram_diag = np.asarray(xt.multiply(xt).sum(0)).ravel()
    best, beta = None, np.zeros(xt.shape[1])
    n = int(tr.sum())
    for alpha in n * np.geomspace(1.0, 1e-5, 12):
        pen = np.full(xt.shape[1], alpha)
        pen[-1] = 1e-8
        op = LinearOperator((xt.shape[1],) * 2, matvec=lambda v, pen=pen: xt.T @ (xt @ v) + pen * v)
        pre = LinearOperator((xt.shape[1],) * 2, matvec=lambda v, d=gram_diag + pen: v / d)
        beta, _ = cg(op, xt.T @ yt, x0=beta, M=pre, rtol=1e-8, maxiter=3000)

        def predict(rows, beta=beta):
            return x[rows] @ beta[:-1] + beta[-1]

        v = r2(y[va], predict(va))
        if best is None or v > best["r2_val"]:
            best = {"r2_val": v, "r2_test": r2(y[te], predict(te)), "alpha": float(alpha)}
            best["_beta"] = beta.copy()
    best["n_features"] = int(x.shape[1])
    return best


def additive_link(x: sp.csr_matrix, y: np.ndarray, split: np.ndarray, start: dict) -> dict:
    """y = a + b sigmoid(c + x . w), from the ridge solution, L2 penalty on w by validation."""
    import torch

    tr, va, te = (split == k for k in range(3))
    coo = x.tocoo()
    xs = torch.sparse_coo_tensor(
        np.vstack([coo.row, coo.col]), coo.data, coo.shape, dtype=torch.float64
    ).to_sparse_csr()
    yt = torch.as_tensor(y, dtype=torch.float64)
    trt = torch.as_tensor(tr)
    beta = start["_beta"]
    lo, hi = float(np.quantile(y[tr], 0.005)), float(np.quantile(y[tr], 0.995))
    scale = 4.0 / max(hi - lo, 1e-9)  # the ridge fit spans about the sigmoid's linear range
    best = None
    for lam in (1e-6, 1e-5, 1e-4, 1e-3):
        w = torch.as_tensor(beta[:-1] * scale, dtype=torch.float64).requires_grad_(True)
        c = torch.tensor(float(beta[-1] - (lo + hi) / 2) * scale, dtype=torch.float64)
        a = torch.tensor(lo - 0.1 * (hi - lo), dtype=torch.float64)
        b = torch.tensor(1.2 * (hi - lo), dtype=torch.float64)
        params = [w, c.requires_grad_(True), a.requires_grad_(True), b.requires_grad_(True)]
        opt = torch.optim.LBFGS(params, max_iter=500, line_search_fn="strong_wolfe")

        def pred(w=w, c=c, a=a, b=b):
            return a + b * torch.sigmoid(c + xs @ w)

        def closure(w=w, lam=lam, opt=opt, pred=pred):
            opt.zero_grad()
            p = pred()
            loss = ((yt[trt] - p[trt]) ** 2).mean() + lam * (w**2).sum()
            loss.backward()
            return loss

        opt.step(closure)
        with torch.no_grad():
            p = pred().numpy()
        v = r2(y[va], p[va])
        if np.isfinite(v) and (best is None or v > best["r2_val"]):
            best = {"r2_val": v, "r2_test": r2(y[te], p[te]), "alpha": lam}
    assert best is not None
    best["n_features"] = int(x.shape[1])
    best["ridge_r2_test"] = start["r2_test"]
    return best


def main() -> None:
    kind, d = sys.argv[1], Path(sys.argv[2])
    z = np.load(d / "data.npz", allow_pickle=False)
    x, y, split = z["x"], z["y"].astype(np.float64), z["split"]
    idx = dummy_columns(codes(x), split == 0)
    add = additive_matrix(idx)
    if kind == "ridge_add":
        res = ridge_path(add, y, split)
    elif kind == "ridge_pair":
        res = ridge_path(sp.hstack([add, pair_matrix(idx, split == 0)]).tocsr(), y, split)
    elif kind == "add_link":
        res = additive_link(add, y, split, ridge_path(add, y, split))
    else:
        raise SystemExit(f"unknown baseline {kind}")
    res.pop("_beta", None)
    print(json.dumps(res))


if __name__ == "__main__":
    main()

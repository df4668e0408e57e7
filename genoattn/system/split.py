"""Seeded train / validation / test split of the samples (saved with the run)."""

from __future__ import annotations

import numpy as np

from genoattn.config import TrainConfig

SPLITS = ("train", "val", "test")


def make_split(n: int, cfg: TrainConfig) -> dict[str, np.ndarray]:
    """Random split of n samples: row indices (sorted) of train, val and test.

    The same seed and n give the same split; at least one sample lands in each non-empty part.
    """
    rng = np.random.default_rng(cfg.seed)
    perm = rng.permutation(n)
    n_test = int(round(cfg.test_fraction * n))
    n_val = max(int(round(cfg.val_fraction * n)), 1)
    test, val, train = perm[:n_test], perm[n_test : n_test + n_val], perm[n_test + n_val :]
    return {"train": np.sort(train), "val": np.sort(val), "test": np.sort(test)}


def split_labels(n: int, split: dict[str, np.ndarray]) -> np.ndarray:
    """shape (n,), str: the split name of every row."""
    out = np.empty(n, dtype=object)
    for name in SPLITS:
        out[split[name]] = name
    return out


def split_from_labels(labels: np.ndarray) -> dict[str, np.ndarray]:
    labels = np.asarray(labels)
    return {name: np.flatnonzero(labels == name) for name in SPLITS}

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


def split_by_iid(
    saved_iids: np.ndarray, saved_labels: np.ndarray, samples: np.ndarray, source: str
) -> dict[str, np.ndarray]:
    """The saved split (IID -> label) as row indices of the current ``samples``.

    Rows are matched by sample ID, never by position, so a reordered input keeps every sample in
    its split. Raises GenoattnError (naming ``source``) when the sample sets differ.
    """
    from genoattn.errors import GenoattnError

    saved = {str(i): str(s) for i, s in zip(saved_iids, saved_labels, strict=True)}
    current = [str(s) for s in samples]
    missing = [s for s in current if s not in saved]
    extra = len(saved) - (len(current) - len(missing))
    if missing or extra:
        raise GenoattnError(
            f"cannot resume: the saved split has {len(saved)} samples, the input {len(current)} "
            f"({len(missing)} not in the split, e.g. {missing[:3]}; {extra} no longer present)",
            source,
        )
    return split_from_labels(np.asarray([saved[s] for s in current], dtype=object))

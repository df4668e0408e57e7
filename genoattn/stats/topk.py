"""The best k locus pairs a < b by a score computed block by block, never as an l x l array.

Axis legend: l loci, k kept pairs, A / B the loci of a block (slices).

Every pair a < b of l loci lies in one block (A, B) with A <= B (row-major in :func:`pair_blocks`).
A block keeps at most its best k pairs and merges them into a running pool of at most k, so memory
is O(block^2 + k) however many loci there are. The order is total: score descending, then a, then
b (:func:`best_first`), so the result does not depend on the block size or on how torch's top-k
breaks ties; :func:`naive_top_pairs` (tests only) sorts all pairs at once and must agree exactly.

Used by the sparse fit's pair screen (``sparse/screen.py``) and the export's ranking
(``interpret/export.py``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

#: ``score(A, B)``: shape (len(A), len(B)) scores of the pairs of loci A x B; entries that are
#: not finite (e.g. -inf for a pair in LD) are never kept; entries with a >= b are ignored.
PairScore = Callable[[slice, slice], torch.Tensor]


def pair_blocks(l: int, block: int) -> list[tuple[slice, slice]]:
    """Blocks (A, B) of at most ``block`` loci each, A <= B, covering every pair a < b of l loci."""
    starts = range(0, l, block)
    return [
        (slice(a0, min(a0 + block, l)), slice(b0, min(b0 + block, l)))
        for a0 in starts
        for b0 in starts
        if b0 >= a0
    ]


def best_first(pairs: np.ndarray, *scores: np.ndarray) -> np.ndarray:
    """shape (m,): the order of rows ``pairs`` (m, 2) by ``scores[0]`` descending, ties by
    ``scores[1]`` descending, ..., then by a and b ascending (a total order)."""
    keys = [pairs[:, 1], pairs[:, 0], *(-np.asarray(s) for s in reversed(scores))]
    return np.lexsort(keys)


def _block_best(s: torch.Tensor, a: slice, b: slice, k: int) -> tuple[np.ndarray, np.ndarray]:
    """The best k pairs a < b of one block's scores s (len(A), len(B)) in the total order:
    every entry above the k-th best score, and of the entries equal to it the first in row-major
    (a, b) order. Returns pairs (m, 2) int64 and scores (m,), m <= k, unordered."""
    ia = torch.arange(a.start, a.stop, device=s.device)
    ib = torch.arange(b.start, b.stop, device=s.device)
    ok = (ib[None, :] > ia[:, None]) & torch.isfinite(s)
    flat = torch.where(ok, s, torch.full_like(s, -torch.inf)).flatten()
    kk = min(k, flat.numel())
    if kk == 0:
        return np.zeros((0, 2), dtype=np.int64), np.zeros(0)
    kth = torch.topk(flat, kk).values[-1]
    above = torch.nonzero(flat > kth).squeeze(1)
    tied = torch.nonzero(flat == kth).squeeze(1)[: kk - len(above)]
    j = torch.cat([above, tied]) if torch.isfinite(kth) else above
    pairs = torch.stack([ia[j // len(ib)], ib[j % len(ib)]], dim=1)
    return pairs.cpu().numpy(), flat[j].cpu().numpy()


def top_pairs(
    score: PairScore, l: int, k: int, block: int, progress: str | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The best k pairs a < b of l loci by ``score`` (see :data:`PairScore`), block by block.

    ``progress``: the label of a tqdm bar over the blocks on stderr (None: no bar).
    Returns pairs (m, 2) int64 with a < b and their scores (m,) in the dtype ``score`` returns,
    best first (:func:`best_first`); m <= k (fewer when fewer pairs have a finite score).
    """
    best_p, best_s = np.zeros((0, 2), dtype=np.int64), None
    if k <= 0 or l < 2:
        return best_p, np.zeros(0)
    jobs = pair_blocks(l, block)
    if progress:
        from tqdm import tqdm

        jobs = tqdm(jobs, desc=progress, unit="block", disable=None)
    for a, b in jobs:
        p, s = _block_best(score(a, b), a, b, k)
        best_p = np.concatenate([best_p, p])
        best_s = s if best_s is None else np.concatenate([best_s, s])
        o = best_first(best_p, best_s)[:k]
        best_p, best_s = best_p[o], best_s[o]
    return best_p, best_s


def naive_top_pairs(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Reference for tests: the best k pairs a < b of a full (l, l) score matrix, one sort of all
    pairs with a finite score (score descending, then a, then b)."""
    l = scores.shape[0]
    rows = [(a, b) for a in range(l) for b in range(a + 1, l) if np.isfinite(scores[a, b])]
    pairs = np.array(rows, dtype=np.int64).reshape(-1, 2)
    s = scores[pairs[:, 0], pairs[:, 1]]
    order = sorted(range(len(pairs)), key=lambda i: (-s[i], pairs[i, 0], pairs[i, 1]))[:k]
    return pairs[order].reshape(-1, 2), s[order]

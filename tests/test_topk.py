"""The blocked top-k of locus pairs against one sort of all pairs (stats/topk.py)."""

import numpy as np
import pytest
import torch

from genoattn.stats.topk import best_first, naive_top_pairs, pair_blocks, top_pairs


def _scorer(full: np.ndarray, dtype=torch.float64):
    t = torch.as_tensor(full, dtype=dtype)
    seen: list[tuple[int, int]] = []

    def score(a: slice, b: slice) -> torch.Tensor:
        seen.append((a.start, b.start))
        return t[a, b]

    return score, seen


@pytest.mark.parametrize("block", [1, 4, 7, 50])
@pytest.mark.parametrize("k", [1, 5, 40, 1000])
def test_top_pairs__equals_naive_sort_with_ties_and_masked_pairs(block, k):
    rng = np.random.default_rng(block * 1000 + k)
    l = 23
    full = rng.integers(0, 6, size=(l, l)).astype(np.float64)  # many ties
    full[rng.random((l, l)) < 0.2] = -np.inf  # excluded pairs (e.g. in LD)
    full[3, 9] = np.nan  # never kept
    score, _ = _scorer(full)
    pairs, scores = top_pairs(score, l, k, block)
    ref_p, ref_s = naive_top_pairs(full, k)
    np.testing.assert_array_equal(pairs, ref_p)
    np.testing.assert_array_equal(scores, ref_s)
    assert (pairs[:, 0] < pairs[:, 1]).all()
    assert len(pairs) == min(k, int(np.isfinite(full[np.triu_indices(l, 1)]).sum()))


def test_top_pairs__keeps_the_score_dtype_and_distinct_scores_by_value():
    rng = np.random.default_rng(0)
    l = 31
    full = rng.normal(size=(l, l)).astype(np.float32)
    score, seen = _scorer(full, torch.float32)
    pairs, scores = top_pairs(score, l, 12, 8)
    assert scores.dtype == np.float32
    iu = np.triu_indices(l, 1)
    best = np.argsort(-full[iu])[:12]
    np.testing.assert_array_equal(pairs, np.stack([iu[0][best], iu[1][best]], 1))
    # each block of the upper triangle scored once: 4 x 4 blocks of 8 loci -> 10
    assert sorted(seen) == sorted({(a.start, b.start) for a, b in pair_blocks(l, 8)})
    assert len(seen) == 10


def test_top_pairs__nothing_to_rank():
    score, seen = _scorer(np.zeros((1, 1)))
    p, s = top_pairs(score, 1, 5, 4)
    assert p.shape == (0, 2) and s.shape == (0,) and not seen
    score, _ = _scorer(np.full((4, 4), -np.inf))
    p, s = top_pairs(score, 4, 5, 2)
    assert p.shape == (0, 2) and len(s) == 0


def test_best_first__secondary_key_then_indices():
    pairs = np.array([[2, 3], [0, 5], [0, 4], [1, 2], [0, 1]])
    s1 = np.array([1.0, 2.0, 2.0, 2.0, 3.0])
    s2 = np.array([0.0, 1.0, 1.0, 5.0, 0.0])
    # 3.0 first; then the 2.0s by s2 descending (5 before the 1s), the 1s by (a, b); then 1.0
    np.testing.assert_array_equal(best_first(pairs, s1, s2), [4, 3, 2, 1, 0])
    np.testing.assert_array_equal(best_first(pairs, s1), [4, 2, 1, 3, 0])

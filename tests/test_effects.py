"""Pair effect tables and their functional-ANOVA scores against naive references.

Oracles: a naive loop for the fANOVA pure part; E[g, h] = A[(a,g),(b,h)] + A[(b,h),(a,g)] read
entry by entry from the dense ``interaction_matrix()`` (or ``to_dense()``) of each model; additive
tables have no interaction variance by construction.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genoattn.contract import make_loci, token_offsets
from genoattn.interpret.effects import (
    PairTables,
    fanova_pure,
    interaction_variance,
    state_frequencies,
)
from genoattn.models.block_sa import BlockSALin
from genoattn.models.hfa import HyperFeatureAttention
from genoattn.models.sa import SALin
from genoattn.system.build import vocab_of

LABELS = [["0", "1", "2"], ["A", "C"], ["0/0", "0/1", "1/1", "1/2"], ["0", "1", "2"], ["A", "G"]]
N_STATES = np.array([len(x) for x in LABELS])
M = int(N_STATES.max())


def _vocab():
    l = len(LABELS)
    loci = make_loci(
        ["1"] * l, range(1, l + 1), [f"v{i}" for i in range(l)], ["x"] * l, ["y"] * l, LABELS
    )
    return vocab_of(loci)


def _expected_block(a_mat: torch.Tensor, ia, ib) -> torch.Tensor:
    """E[i, j, g, h] = A[(a,g),(b,h)] + A[(b,h),(a,g)], zero where a state does not exist."""
    off = token_offsets(N_STATES) + 1
    out = torch.zeros(len(ia), len(ib), M, M, dtype=a_mat.dtype)
    for i, a in enumerate(ia):
        for j, b in enumerate(ib):
            for g in range(N_STATES[a]):
                for h in range(N_STATES[b]):
                    x, y = off[a] + g, off[b] + h
                    out[i, j, g, h] = a_mat[x, y] + a_mat[y, x]
    return out


def _naive_pure(e, pa, pb):
    m1, m2 = e.shape
    row = [sum(pb[h] * e[g, h] for h in range(m2)) for g in range(m1)]
    col = [sum(pa[g] * e[g, h] for g in range(m1)) for h in range(m2)]
    grand = sum(pa[g] * pb[h] * e[g, h] for g in range(m1) for h in range(m2))
    return np.array([[e[g, h] - row[g] - col[h] + grand for h in range(m2)] for g in range(m1)])


def _freqs(rng, k, m):
    p = np.zeros(m)
    p[:k] = rng.dirichlet(np.ones(k))
    return p


def test_fanova_pure__matches_naive_loop():
    rng = np.random.default_rng(0)
    e = rng.standard_normal((4, 3, 4))
    pa = np.stack([_freqs(rng, k, 3) for k in (3, 2, 3, 3)])
    pb = np.stack([_freqs(rng, k, 4) for k in (4, 4, 2, 3)])
    got = fanova_pure(torch.tensor(e), torch.tensor(pa), torch.tensor(pb)).numpy()
    for i in range(4):
        np.testing.assert_allclose(got[i], _naive_pure(e[i], pa[i], pb[i]), atol=1e-12)
        var = sum(pa[i, g] * pb[i, h] * got[i, g, h] ** 2 for g in range(3) for h in range(4))
        np.testing.assert_allclose(
            float(
                interaction_variance(torch.tensor(e[i]), torch.tensor(pa[i]), torch.tensor(pb[i]))
            ),
            var,
            atol=1e-12,
        )


def test_interaction_variance__additive_table_is_zero():
    rng = np.random.default_rng(1)
    u, v = rng.standard_normal(3), rng.standard_normal(3)
    e = torch.tensor(u[:, None] + v[None, :] + 0.7)  # main effects and a constant only
    pa, pb = torch.tensor([0.5, 0.3, 0.2]), torch.tensor([0.1, 0.6, 0.3])
    assert abs(float(interaction_variance(e, pa, pb))) < 1e-12
    # a product table has a non-zero interaction variance
    prod = torch.tensor(np.outer(np.arange(3.0), np.arange(3.0)))
    assert float(interaction_variance(prod, pa, pb)) > 0.01


def test_state_frequencies__counts_observed_calls():
    st = np.array([[0, 1], [2, -1], [0, 1], [-1, 0]], dtype=np.int8)
    got = state_frequencies(st, np.array([3, 2]))
    np.testing.assert_allclose(got, [[2 / 3, 0, 1 / 3], [1 / 3, 2 / 3, 0]])


def _randomise(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype))
    return model


@pytest.mark.parametrize("rank", [None, 2])
def test_pair_tables__salin_block_equals_dense_invariant(rank):
    vocab = _vocab()
    model = _randomise(SALin(vocab.size, rank=rank).double(), seed=3)
    a_mat = model.interaction_matrix().detach()
    tables = PairTables(model, N_STATES)
    ia, ib = np.array([0, 2, 3]), np.array([1, 2, 4, 0])
    got = tables.block(ia, ib)
    torch.testing.assert_close(got, _expected_block(a_mat, ia, ib))
    # the listed-pairs form agrees with the block form
    pairs = np.array([[0, 1], [2, 4], [3, 0]])
    torch.testing.assert_close(
        tables.pairs(pairs), torch.stack([_expected_block(a_mat, [a], [b])[0, 0] for a, b in pairs])
    )


def test_pair_tables__hfa_block_equals_dense_invariant():
    vocab = _vocab()
    model = HyperFeatureAttention(
        torch.as_tensor(vocab.token_locus),
        torch.as_tensor(vocab.token_label),
        vocab.n_loci,
        len(vocab.labels),
        heads=3,
        rank=2,
    ).double()
    _randomise(model, seed=4)
    a_mat = model.interaction_matrix().detach()
    ia, ib = np.array([0, 1, 3]), np.array([2, 4, 1])
    got = PairTables(model, N_STATES).block(ia, ib)
    torch.testing.assert_close(got, _expected_block(a_mat, ia, ib))
    # and with the model's own pair_effect (rows/columns in state-code order)
    torch.testing.assert_close(got[0, 0, :3, :4], model.pair_effect(0, 2).detach())


def test_pair_tables__block_sa_equals_dense_invariant():
    vocab = _vocab()
    g = torch.Generator().manual_seed(5)
    pairs = torch.tensor([[0, 2], [3, 1], [2, 4]])
    diag = torch.randn(vocab.size, generator=g, dtype=torch.float64)
    diag[0] = 0
    tabs = torch.randn(len(pairs), M, M, generator=g, dtype=torch.float64)
    for k, (a, b) in enumerate(pairs.tolist()):  # entries beyond a locus's states are unused
        tabs[k, N_STATES[a] :, :] = 0
        tabs[k, :, N_STATES[b] :] = 0
    model = BlockSALin(diag, torch.as_tensor(vocab.token_state), pairs, tabs)
    a_mat = model.to_dense(torch.as_tensor(token_offsets(N_STATES)), torch.as_tensor(N_STATES))
    tables = PairTables(model, N_STATES)
    np.testing.assert_array_equal(tables.sparse_pairs, pairs.numpy())
    # disjoint loci (a != b); pair (2, 4) is read in the reverse order (4, 2)
    ia, ib = np.array([0, 3, 4]), np.array([2, 1])
    got = tables.block(ia, ib).double()
    torch.testing.assert_close(got, _expected_block(a_mat, ia, ib))

"""Modules against dense one-hot computations written out here: (X C X^T) X W_V with X one-hot."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genoattn.contract import states_to_tokens, token_locus_state, token_offsets
from genoattn.errors import GenoattnError
from genoattn.models import (
    Additive,
    HyperAttention,
    HyperAttentionBlock,
    HyperFeatureAttention,
    HyperFeatureAttentionBlock,
    RandomFeatureAttention,
    SALin,
    SoftmaxAttentionBlock,
)
from genoattn.models.reference import hyper_attention_naive

N_STATES = np.array([3, 3, 2, 4, 3])  # five loci; vocabulary 16 with the padding token
S = int(N_STATES.sum()) + 1


def _tokens(seed: int, n: int = 4) -> torch.Tensor:
    """(n, 5) int64 tokens of the contract's encoding, with missing calls (token 0)."""
    rng = np.random.default_rng(seed)
    states = np.stack([rng.integers(0, k, size=n) for k in N_STATES], axis=1).astype(np.int8)
    states[rng.random(states.shape) < 0.2] = -1
    states[0, 1] = -1
    return torch.from_numpy(states_to_tokens(states, token_offsets(N_STATES))).long()


def _X(tokens: torch.Tensor) -> torch.Tensor:
    """Dense one-hot (b, l, s) with an all-zero row for missing entities."""
    X = torch.zeros(*tokens.shape, S, dtype=torch.float64)
    for b in range(tokens.shape[0]):
        for i in range(tokens.shape[1]):
            if tokens[b, i] != 0:
                X[b, i, tokens[b, i]] = 1.0
    return X


def _counts(tokens: torch.Tensor) -> torch.Tensor:
    """(b, s) token counts of the real entities."""
    return _X(tokens).sum(1)


def _randomise(module: torch.nn.Module, seed: int) -> torch.nn.Module:
    g = torch.Generator().manual_seed(seed)
    module.double()
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=p.dtype))
    return module


@pytest.mark.parametrize("rank", [None, 3])
def test_sa_lin__matches_dense_one_hot(rank):
    model = _randomise(SALin(S, rank=rank), 0)
    tokens = _tokens(1)
    X = _X(tokens)
    C = model.C if rank is None else model.Wq @ model.Wk.T
    dense = (X @ C @ X.transpose(1, 2)) @ (X @ model.w.unsqueeze(-1))  # (b, l, 1)
    with torch.no_grad():
        torch.testing.assert_close(model.entities(tokens), dense)
        torch.testing.assert_close(model(tokens), dense.sum((1, 2)))
        h = _counts(tokens)
        A = model.interaction_matrix()
        torch.testing.assert_close(model(tokens), torch.einsum("ba,ac,bc->b", h, A, h))
        assert torch.all(A[0] == 0) and torch.all(A[:, 0] == 0)


def test_sa_lin__factors_only_when_factorised():
    Wq, Wk, w = SALin(S, rank=2).factors()
    assert Wq.shape == (S, 2) and Wk.shape == (S, 2) and w.shape == (S,)
    with pytest.raises(ValueError):
        SALin(S).factors()


def _hfa(softmax: bool, seed: int = 2) -> HyperFeatureAttention:
    locus, state = token_locus_state(N_STATES)
    model = HyperFeatureAttention(
        torch.from_numpy(locus),
        torch.from_numpy(state),
        n_loci=len(N_STATES),
        n_state_labels=int(N_STATES.max()),
        heads=2,
        rank=2,
        softmax=softmax,
    )
    return _randomise(model, seed)


def _hfa_dense(model: HyperFeatureAttention, tokens: torch.Tensor) -> torch.Tensor:
    """sum_h attn_h((X C_h X^T)) X w_h with C_h[a, b] = f_locus_h(l_a, l_b) f_state_h(g_a, g_b)."""
    locus, state = model.token_locus, model.token_state
    X = _X(tokens)
    real = tokens != 0
    out = torch.zeros(*tokens.shape, 1, dtype=torch.float64)
    for h in range(model.q_locus.shape[0]):
        C = torch.zeros(S, S, dtype=torch.float64)
        w = torch.zeros(S, dtype=torch.float64)
        for a in range(1, S):
            w[a] = model.v_locus[h, locus[a]] * model.v_state[h, state[a]]
            for b in range(1, S):
                f_loc = model.q_locus[h, locus[a]] @ model.k_locus[h, locus[b]]
                C[a, b] = f_loc * model.f_state[h, state[a], state[b]]
        scores = X @ C @ X.transpose(1, 2)  # (b, l, l)
        if model.softmax:
            scores = scores.masked_fill(~real[:, None, :], float("-inf"))
            scores = torch.softmax(scores, -1) * real[:, :, None]
        out += scores @ (X @ w.unsqueeze(-1))
    return out


@pytest.mark.parametrize("softmax", [False, True])
def test_hyper_feature_attention__matches_dense_one_hot(softmax):
    model = _hfa(softmax)
    tokens = _tokens(3)
    with torch.no_grad():
        dense = _hfa_dense(model, tokens)
        torch.testing.assert_close(model.entities(tokens), dense)
        torch.testing.assert_close(model(tokens), dense.sum((1, 2)))


def test_hyper_feature_attention__interaction_matrix_and_pair_effect():
    model = _hfa(False, seed=4)
    tokens = _tokens(5, n=6)
    with torch.no_grad():
        A = model.interaction_matrix()
        h = _counts(tokens)
        torch.testing.assert_close(model(tokens), torch.einsum("ba,ac,bc->b", h, A, h))
        offsets = token_offsets(N_STATES)
        E = model.pair_effect(1, 3)
        assert E.shape == (N_STATES[1], N_STATES[3])
        for g1 in range(N_STATES[1]):
            for g3 in range(N_STATES[3]):
                a, b = offsets[1] + g1 + 1, offsets[3] + g3 + 1
                assert E[g1, g3].item() == pytest.approx((A[a, b] + A[b, a]).item())
    with pytest.raises(GenoattnError, match="linear"):
        _hfa(True).pair_effect(0, 1)


def _ha_dense(model: HyperAttention, tokens: torch.Tensor) -> torch.Tensor:
    """Order-3 A_ijk V_jk from one-hot X and the factor tables, linear non-causal form."""
    X = _X(tokens)
    q = X @ model.q_table
    k1, k2 = X @ model.k_tables[0], X @ model.k_tables[1]
    v1, v2 = X @ model.v_tables[0], X @ model.v_tables[1]
    A = torch.einsum("bir,bjr,bkr->bijk", q, k1, k2)
    V = torch.einsum("bjp,bkp,pd->bjkd", v1, v2, model.c)
    return torch.einsum("bijk,bjkd->bid", A, V)


def test_hyper_attention__matches_dense_one_hot_order3():
    model = _randomise(HyperAttention(S, order=3, rank=3, value_rank=2, d=2), 6)
    tokens = _tokens(7)
    with torch.no_grad():
        dense = _ha_dense(model, tokens)
        torch.testing.assert_close(model.entities(tokens), dense)
        torch.testing.assert_close(model(tokens), dense.sum((1, 2)))


@pytest.mark.parametrize("order", [3, 4])
@pytest.mark.parametrize(("causal", "softmax"), [(True, False), (False, True), (True, True)])
def test_hyper_attention__causal_and_softmax_match_full_tensor(order, causal, softmax):
    model = HyperAttention(S, order=order, rank=2, value_rank=2, causal=causal, softmax=softmax)
    model = _randomise(model, 8)
    tokens = _tokens(9, n=3)
    X, real = _X(tokens), tokens != 0
    with torch.no_grad():
        dense = hyper_attention_naive(
            X @ model.q_table,
            [X @ k for k in model.k_tables],
            [X @ v for v in model.v_tables],
            model.c,
            causal,
            softmax,
            key_mask=real,
        ) * real.unsqueeze(-1)
        torch.testing.assert_close(model.entities(tokens), dense)


def test_additive__sums_token_weights():
    model = _randomise(Additive(S), 10)
    tokens = _tokens(11)
    with torch.no_grad():
        torch.testing.assert_close(model(tokens), _X(tokens).sum(1) @ model.w)
        torch.testing.assert_close(model.entities(tokens).sum((1, 2)), model(tokens))


def _blocks(causal: bool, softmax: bool) -> list[torch.nn.Module]:
    torch.manual_seed(0)
    return [
        SoftmaxAttentionBlock(8, heads=2, rank=3, causal=causal, softmax=softmax),
        HyperFeatureAttentionBlock(8, heads=2, rank=2, causal=causal, softmax=softmax),
        HyperAttentionBlock(8, heads=2, rank=2, value_rank=2, causal=causal, softmax=softmax),
    ]


@pytest.mark.parametrize("softmax", [False, True])
def test_blocks__causal_outputs_ignore_future_positions(softmax):
    g = torch.Generator().manual_seed(12)
    x = torch.randn(2, 6, 8, generator=g, dtype=torch.float64)
    x2 = x.clone()
    x2[:, 4:] = torch.randn(2, 2, 8, generator=g, dtype=torch.float64)
    for block in _blocks(causal=True, softmax=softmax):
        block.double()
        with torch.no_grad():
            y, y2 = block(x), block(x2)
        assert y.shape == x.shape
        torch.testing.assert_close(y[:, :4], y2[:, :4])
        assert not torch.allclose(y[:, 4:], y2[:, 4:])


def test_hyper_attention_block__single_head_matches_full_tensor():
    block = HyperAttentionBlock(4, heads=1, rank=2, value_rank=3, order=3, causal=True)
    block.double()
    g = torch.Generator().manual_seed(13)
    x = torch.randn(2, 5, 4, generator=g, dtype=torch.float64)
    with torch.no_grad():
        q = block.q_proj(x) * 2**-0.5
        k1, k2 = block.k_proj(x).split(2, dim=-1)
        v1, v2 = block.v_proj(x).split(3, dim=-1)
        y = hyper_attention_naive(q, [k1, k2], [v1, v2], block.c[0], causal=True, softmax=True)
        torch.testing.assert_close(block(x), block.out(y))


def test_random_feature_attention__features_match_embedded_tokens():
    model = RandomFeatureAttention(heads=3, d=4, vocab_size=S, activation="relu", seed=1)
    tokens = _tokens(14)
    x = model.embedding[tokens]
    real = tokens != 0
    # independent: mean query over real entities, relu scores normalised by the real count
    x0 = (x * real.unsqueeze(-1)).sum(1) / real.sum(1, keepdim=True)
    scores = torch.einsum("bd,mde,ble->bml", x0, model.w_qk, x)
    phi = torch.einsum("bml,bld->bmd", torch.relu(scores) * real[:, None, :], x)
    phi = phi / real.sum(1).view(-1, 1, 1)
    torch.testing.assert_close(model.features(tokens), phi.flatten(1))


@pytest.mark.parametrize(("n", "mean"), [(200, 0.0), (20, 0.5)])  # primal and dual systems
def test_random_feature_attention__ridge_recovers_planted_values(n, mean):
    model = RandomFeatureAttention(heads=5, d=6, mean=mean, activation="relu", seed=2)
    g = torch.Generator().manual_seed(15)
    x = torch.randn(n, 7, 6, generator=g)
    feats = model.features(x)
    v_true = torch.randn(5, 6, generator=g)
    y = feats @ v_true.flatten()
    v = model.fit_ridge(feats, y, lam=1e-9)
    with torch.no_grad():
        pred = model(x)
    assert torch.mean((pred - y) ** 2) < 1e-6 * torch.mean(y**2)
    if n > 30:  # over-determined: the planted values themselves come back
        torch.testing.assert_close(v, v_true, atol=1e-3, rtol=1e-3)


def test_random_feature_attention__frozen_tables_follow_the_seed():
    a = RandomFeatureAttention(heads=2, d=3, vocab_size=S, seed=7)
    b = RandomFeatureAttention(heads=2, d=3, vocab_size=S, seed=7)
    c = RandomFeatureAttention(heads=2, d=3, vocab_size=S, seed=8)
    assert torch.equal(a.w_qk, b.w_qk) and torch.equal(a.embedding, b.embedding)
    assert not torch.equal(a.w_qk, c.w_qk)
    assert [name for name, _ in a.named_parameters()] == ["values"]
    assert torch.all(a.embedding[0] == 0)

"""Every fast kernel against its naive explicit-tensor twin (float64, tiny random inputs)."""

from __future__ import annotations

import pytest
import torch

from genoattn.models import kernels as K
from genoattn.models import reference as R

B, L, S = 3, 7, 11  # batch, entities, vocabulary (token 0 = padding)


def _gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _randn(*shape, g: torch.Generator) -> torch.Tensor:
    return torch.randn(*shape, generator=g, dtype=torch.float64, requires_grad=True)


def _tokens(g: torch.Generator, b: int = B, l: int = L, s: int = S) -> torch.Tensor:
    """(b, l) int64 tokens with a padding token in every row, and one row mostly padding."""
    t = torch.randint(1, s, (b, l), generator=g)
    t[:, 2] = 0
    t[-1, 3:] = 0
    return t


def _same_with_grads(fast_fn, naive_fn, inputs: list[torch.Tensor], atol: float = 1e-9) -> None:
    """Values and the gradients of a random projection of the output agree."""
    out_fast = fast_fn(*inputs)
    out_naive = naive_fn(*inputs)
    torch.testing.assert_close(out_fast, out_naive, atol=atol, rtol=1e-7)
    proj = torch.randn(out_fast.shape, generator=_gen(99), dtype=out_fast.dtype)
    grads_fast = torch.autograd.grad((out_fast * proj).sum(), inputs)
    grads_naive = torch.autograd.grad((out_naive * proj).sum(), inputs)
    for gf, gn in zip(grads_fast, grads_naive, strict=True):
        torch.testing.assert_close(gf, gn, atol=atol, rtol=1e-7)


@pytest.mark.parametrize("causal", [False, True])
def test_linear_attention__matches_explicit_scores(causal, monkeypatch):
    monkeypatch.setattr(K, "CAUSAL_CHUNK", 3)  # several chunks and a ragged last one
    g = _gen(1)
    q, k, v = _randn(B, L, 4, g=g), _randn(B, L, 4, g=g), _randn(B, L, 5, g=g)
    _same_with_grads(
        lambda q, k, v: K.linear_attention(q, k, v, causal),
        lambda q, k, v: R.linear_attention_naive(q, k, v, causal),
        [q, k, v],
    )


def test_linear_attention__causal_prefix_ignores_future():
    g = _gen(2)
    q, k, v = (torch.randn(1, L, 3, generator=g, dtype=torch.float64) for _ in range(3))
    out = K.linear_attention(q, k, v, causal=True)
    v2 = v.clone()
    v2[:, 4:] += 10.0
    out2 = K.linear_attention(q, k, v2, causal=True)
    torch.testing.assert_close(out[:, :4], out2[:, :4])
    assert not torch.allclose(out[:, 4:], out2[:, 4:])


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("masked", [False, True])
def test_softmax_attention__matches_explicit_softmax(causal, masked):
    g = _gen(3)
    q, k, v = _randn(B, L, 4, g=g), _randn(B, L, 4, g=g), _randn(B, L, 2, g=g)
    key_mask = _tokens(g) != 0 if masked else None
    _same_with_grads(
        lambda q, k, v: K.softmax_attention(q, k, v, causal, key_mask),
        lambda q, k, v: R.softmax_attention_naive(q, k, v, causal, key_mask),
        [q, k, v],
    )


def test_softmax_attention__rows_are_convex_combinations():
    g = _gen(4)
    q, k = torch.randn(2, L, 3, generator=g), torch.randn(2, L, 3, generator=g)
    v = torch.ones(2, L, 1)
    torch.testing.assert_close(K.softmax_attention(q, k, v, causal=True), v)


@pytest.mark.parametrize("softmax", [False, True])
@pytest.mark.parametrize("causal", [False, True])
def test_hadamard_attention__matches_product_of_score_matrices(softmax, causal):
    g = _gen(5)
    ranks = [2, 3, 2]
    qs = [_randn(B, L, r, g=g) for r in ranks]
    ks = [_randn(B, L, r, g=g) for r in ranks]
    vs = [_randn(B, L, 4, g=g) for _ in ranks]
    key_mask = _tokens(g) != 0
    n = len(ranks)
    _same_with_grads(
        lambda *t: K.hadamard_attention(
            list(t[:n]), list(t[n : 2 * n]), list(t[2 * n :]), softmax, causal, key_mask
        ),
        lambda *t: R.hadamard_attention_naive(
            list(t[:n]), list(t[n : 2 * n]), list(t[2 * n :]), softmax, causal, key_mask
        ),
        qs + ks + vs,
    )


def test_khatri_rao__scores_are_hadamard_products():
    g = _gen(6)
    a1, a2 = torch.randn(L, 2, generator=g), torch.randn(L, 3, generator=g)
    b1, b2 = torch.randn(L, 2, generator=g), torch.randn(L, 3, generator=g)
    lhs = K.khatri_rao([a1, a2]) @ K.khatri_rao([b1, b2]).T
    torch.testing.assert_close(lhs, (a1 @ b1.T) * (a2 @ b2.T))


@pytest.mark.parametrize("order", [3, 4])
@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("softmax", [False, True])
def test_hyper_attention__matches_full_tensor(order, causal, softmax):
    g = _gen(7 + order)
    b, l, r, p, d = 2, 5, 3, 2, 3
    m = order - 1
    q = _randn(b, l, r, g=g)
    ks = [_randn(b, l, r, g=g) for _ in range(m)]
    vs = [_randn(b, l, p, g=g) for _ in range(m)]
    c = _randn(p, d, g=g)
    key_mask = _tokens(g, b, l) != 0
    _same_with_grads(
        lambda q, c, *t: K.hyper_attention(
            q, list(t[:m]), list(t[m:]), c, causal, softmax, key_mask
        ),
        lambda q, c, *t: R.hyper_attention_naive(
            q, list(t[:m]), list(t[m:]), c, causal, softmax, key_mask
        ),
        [q, c, *ks, *vs],
    )


def test_hyper_attention__heads_as_leading_axis():
    g = _gen(12)
    b, h, l, r, p = 2, 3, 4, 2, 2
    q = torch.randn(b, h, l, r, generator=g, dtype=torch.float64)
    ks = [torch.randn(b, h, l, r, generator=g, dtype=torch.float64) for _ in range(2)]
    vs = [torch.randn(b, h, l, p, generator=g, dtype=torch.float64) for _ in range(2)]
    c = torch.randn(p, 1, generator=g, dtype=torch.float64)
    for causal in (False, True):
        for softmax in (False, True):
            fast = K.hyper_attention(q, ks, vs, c, causal, softmax)
            for hi in range(h):
                naive = R.hyper_attention_naive(
                    q[:, hi], [k[:, hi] for k in ks], [v[:, hi] for v in vs], c, causal, softmax
                )
                torch.testing.assert_close(fast[:, hi], naive)


def test_sa_lin_cohort__full_and_factorised_match_one_hot():
    g = _gen(13)
    tokens = _tokens(g)
    C, w = _randn(S, S, g=g), _randn(S, g=g)
    Wq, Wk = _randn(S, 4, g=g), _randn(S, 4, g=g)
    _same_with_grads(
        lambda C, w: K.sa_lin_cohort_full(tokens, C, w),
        lambda C, w: R.sa_lin_cohort_full_naive(tokens, C, w),
        [C, w],
    )
    _same_with_grads(
        lambda Wq, Wk, w: K.sa_lin_cohort_factorised(tokens, Wq, Wk, w),
        lambda Wq, Wk, w: R.sa_lin_cohort_factorised_naive(tokens, Wq, Wk, w),
        [Wq, Wk, w],
    )


def test_sa_lin_cohort__padding_rows_contribute_nothing():
    g = _gen(14)
    tokens = _tokens(g)
    C, w = torch.randn(S, S, generator=g), torch.randn(S, generator=g)
    Wq, Wk = torch.randn(S, 3, generator=g), torch.randn(S, 3, generator=g)
    C2, w2, Wq2, Wk2 = C.clone(), w.clone(), Wq.clone(), Wk.clone()
    C2[0, :] = 1e3
    C2[:, 0] = -1e3
    w2[0] = 7.0
    Wq2[0], Wk2[0] = 5.0, -5.0
    torch.testing.assert_close(
        K.sa_lin_cohort_full(tokens, C, w), K.sa_lin_cohort_full(tokens, C2, w2)
    )
    torch.testing.assert_close(
        K.sa_lin_cohort_factorised(tokens, Wq, Wk, w),
        K.sa_lin_cohort_factorised(tokens, Wq2, Wk2, w2),
    )
    # an all-padding sample scores exactly zero
    empty = torch.zeros(1, L, dtype=torch.long)
    assert K.sa_lin_cohort_full(empty, C2, w2).item() == 0.0
    assert K.sa_lin_cohort_factorised(empty, Wq2, Wk2, w2).item() == 0.0


def test_sa_lin_cohort__hand_computed_value():
    # tokens (1, 2): y = C11 w1 + C12 w2 + C21 w1 + C22 w2
    C = torch.tensor([[0.0, 0.0, 0.0], [0.0, 1.0, 2.0], [0.0, 3.0, 4.0]], dtype=torch.float64)
    w = torch.tensor([0.0, 10.0, 100.0], dtype=torch.float64)
    tokens = torch.tensor([[1, 2, 0]])
    assert K.sa_lin_cohort_full(tokens, C, w).item() == pytest.approx(10 + 200 + 30 + 400)


@pytest.mark.parametrize("factorised", [False, True])
def test_sa_lin_entities__matches_dense_one_hot(factorised):
    g = _gen(15)
    tokens = _tokens(g)
    W_V = _randn(S, 2, g=g)
    if factorised:
        Wq, Wk = _randn(S, 3, g=g), _randn(S, 3, g=g)
        _same_with_grads(
            lambda Wq, Wk, W_V: K.sa_lin_entities(tokens, (Wq, Wk), W_V),
            lambda Wq, Wk, W_V: R.sa_lin_entities_naive(tokens, (Wq, Wk), W_V),
            [Wq, Wk, W_V],
        )
    else:
        C = _randn(S, S, g=g)
        _same_with_grads(
            lambda C, W_V: K.sa_lin_entities(tokens, C, W_V),
            lambda C, W_V: R.sa_lin_entities_naive(tokens, C, W_V),
            [C, W_V],
        )
    out = K.sa_lin_entities(tokens, _randn(S, S, g=g), W_V)
    assert torch.all(out[tokens == 0] == 0)


def test_sa_lin_entities__sum_is_cohort_readout():
    g = _gen(16)
    tokens = _tokens(g)
    C, w = torch.randn(S, S, generator=g, dtype=torch.float64), torch.randn(S, generator=g)
    w = w.double()
    ent = K.sa_lin_entities(tokens, C, w.unsqueeze(-1))
    torch.testing.assert_close(ent.sum((1, 2)), K.sa_lin_cohort_full(tokens, C, w))


@pytest.mark.parametrize("activation", ["relu", "softmax"])
@pytest.mark.parametrize("given_query", [False, True])
def test_rfa_features__match_loops(activation, given_query):
    g = _gen(17)
    b, l, d, m = 2, 5, 3, 4
    x = _randn(b, l, d, g=g)
    w_qk = torch.randn(m, d, d, generator=g, dtype=torch.float64)
    mask = torch.ones(b, l, dtype=torch.bool)
    mask[1, 3:] = False
    query = torch.randn(b, d, generator=g, dtype=torch.float64) if given_query else None
    _same_with_grads(
        lambda x: K.rfa_features(x, w_qk, query, activation, mask),
        lambda x: R.rfa_features_naive(x, w_qk, query, activation, mask),
        [x],
    )


def test_rfa_features__rejects_unknown_activation():
    with pytest.raises(ValueError, match="activation"):
        K.rfa_features(torch.zeros(1, 2, 3), torch.zeros(1, 3, 3), activation="tanh")

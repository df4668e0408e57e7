"""BlockSALin against the dense SA_lin formula y = sum_{i,j} A[t_i, t_j] w[t_j] (w = 1).

Oracle: dense one-hot entity matrices X (b, l, s) with the padding column zeroed, and
y = 1^T X A X^T 1, written out in the test (Ustaomeroglu & Qu 2025, Eq. 1 summed over entities).
"""

from __future__ import annotations

import numpy as np
import torch

from genoattn.contract import token_locus_state, token_offsets
from genoattn.models.block_sa import BlockSALin
from genoattn.models.sa import SALin

N_STATES = np.array([3, 2, 4, 3, 3])
PAIRS = [(0, 2), (1, 3), (2, 3), (4, 0)]


def _model(seed: int = 0) -> BlockSALin:
    g = torch.Generator().manual_seed(seed)
    s = int(N_STATES.sum()) + 1
    m = int(N_STATES.max())
    diag = torch.randn(s, generator=g, dtype=torch.float64)
    diag[0] = 0.0
    tables = torch.randn(len(PAIRS), m, m, generator=g, dtype=torch.float64)
    token_state = torch.as_tensor(token_locus_state(N_STATES)[1])
    return BlockSALin(diag, token_state, torch.tensor(PAIRS), tables)


def _tokens(b: int, missing: float, seed: int = 1) -> torch.Tensor:
    """(b, l) random tokens of the contract; a fraction ``missing`` set to padding (0)."""
    rng = np.random.default_rng(seed)
    states = np.column_stack([rng.integers(0, k, size=b) for k in N_STATES])
    tok = states + token_offsets(N_STATES)[None, :] + 1
    tok[rng.random(tok.shape) < missing] = 0
    return torch.as_tensor(tok, dtype=torch.int64)


def _dense_sa_lin(tokens: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """y_b = sum_{i,j} A[t_i, t_j] * w[t_j], w = 1, with explicit one-hot matrices."""
    s = a.shape[0]
    x = torch.nn.functional.one_hot(tokens, s).to(a.dtype)  # (b, l, s)
    x[..., 0] = 0.0  # the padding token embeds as the zero vector
    w = torch.ones(s, dtype=a.dtype)
    scores = x @ a @ x.transpose(1, 2)  # (b, l, l): f(s_i, s_j)
    values = x @ w  # (b, l): w[s_j]
    return (scores * values[:, None, :]).sum((1, 2))


def test_block_sa__forward_equals_dense_sa_lin():
    model = _model()
    a = model.to_dense(torch.as_tensor(token_offsets(N_STATES)), torch.as_tensor(N_STATES))
    tokens = _tokens(64, missing=0.0)
    torch.testing.assert_close(model(tokens), _dense_sa_lin(tokens, a))


def test_block_sa__missing_tokens_contribute_nothing():
    model = _model(seed=2)
    a = model.to_dense(torch.as_tensor(token_offsets(N_STATES)), torch.as_tensor(N_STATES))
    tokens = _tokens(200, missing=0.3, seed=3)
    assert 0.2 < float((tokens == 0).double().mean()) < 0.4
    torch.testing.assert_close(model(tokens), _dense_sa_lin(tokens, a))
    # an all-missing sample scores exactly 0
    assert float(model(torch.zeros(1, len(N_STATES), dtype=torch.int64))[0]) == 0.0
    # dropping locus 2 removes its diagonal entry and the tables of pairs (0, 2) and (2, 3)
    full = _tokens(8, missing=0.0, seed=4)
    drop = full.clone()
    drop[:, 2] = 0
    st = model.token_state[full]
    lost = (
        model.diag[full[:, 2]]
        + model.tables[0, st[:, 0], st[:, 2]]
        + model.tables[2, st[:, 2], st[:, 3]]
    )
    torch.testing.assert_close(model(full) - model(drop), lost)


def test_block_sa__dense_form_runs_in_sa_lin():
    """to_dense gives an A that the full SA_lin module (C = A, w = 1) evaluates identically."""
    model = _model(seed=5)
    a = model.to_dense(torch.as_tensor(token_offsets(N_STATES)), torch.as_tensor(N_STATES))
    sa = SALin(a.shape[0]).double()
    with torch.no_grad():
        sa.C.copy_(a)
        sa.w.fill_(1.0)
    tokens = _tokens(50, missing=0.2, seed=6)
    torch.testing.assert_close(sa(tokens), model(tokens))
    # the dense A holds each pair table once, in the (a, b) block only
    off = token_offsets(N_STATES) + 1
    la, lb = PAIRS[3]
    block = a[off[la] : off[la] + N_STATES[la], off[lb] : off[lb] + N_STATES[lb]]
    torch.testing.assert_close(block, model.tables[3, : N_STATES[la], : N_STATES[lb]])
    back = a[off[lb] : off[lb] + N_STATES[lb], off[la] : off[la] + N_STATES[la]]
    assert float(back.abs().max()) == 0.0

"""Contrast coding: centred and whitened per locus, double-centred pair tables, missing -> 0.

Oracles: sample moments of the coded training samples (mean 0, identity covariance), numpy's
Kronecker product, and the exact identity sum_g p(g) z(g) = 0 that makes z_a (x) z_b tables free of
main effects under the training genotype frequencies.
"""

from __future__ import annotations

import numpy as np
import torch

from genoattn.contract import MISSING, states_to_tokens, token_offsets
from genoattn.sparse.contrasts import fit_contrasts, pair_features


def _states(seed: int = 0, n: int = 600):
    """Independent loci with 3, 4, 2 and 3 states; locus 3 never shows state 2; 5% missing."""
    rng = np.random.default_rng(seed)
    n_states = np.array([3, 4, 2, 3])
    freqs = [[0.5, 0.3, 0.2], [0.4, 0.3, 0.2, 0.1], [0.7, 0.3], [0.6, 0.4, 0.0]]
    st = np.column_stack([rng.choice(len(f), size=n, p=f) for f in freqs]).astype(np.int8)
    st[rng.random(st.shape) < 0.05] = MISSING
    return st, n_states


def _z(con, states, n_states):
    tokens = states_to_tokens(states, token_offsets(n_states))
    return con.locus_features(tokens).astype(np.float64)  # (n, l, d)


def test_contrasts__centred_and_whitened_on_training_samples():
    st, n_states = _states()
    con = fit_contrasts(st, n_states, eps=1e-12)
    z = _z(con, st, n_states)
    # observed states minus one contrast per locus; the unseen state of locus 3 is not counted
    np.testing.assert_array_equal(con.n_active, [2, 3, 1, 1])
    assert con.d == 3
    for a in range(len(n_states)):
        called = st[:, a] != MISSING
        m = con.n_active[a]
        za = z[called, a, :]
        np.testing.assert_allclose(za.mean(0), 0.0, atol=1e-6)
        cov = za[:, :m].T @ za[:, :m] / called.sum()
        np.testing.assert_allclose(cov, np.eye(m), atol=1e-5)
        np.testing.assert_array_equal(za[:, m:], 0.0)  # columns beyond the locus's contrasts


def test_contrasts__missing_padding_and_unseen_states_are_zero():
    st, n_states = _states()
    con = fit_contrasts(st, n_states)
    np.testing.assert_array_equal(con.table[0], 0.0)  # padding token
    z = _z(con, st, n_states)
    np.testing.assert_array_equal(z[st == MISSING], 0.0)
    # locus 3, state 2 never occurs in training: its token codes to 0 (mean imputation)
    tok = token_offsets(n_states)[3] + 2 + 1
    np.testing.assert_array_equal(con.table[tok], 0.0)
    # every observed state has a non-zero contrast vector
    for a in range(len(n_states)):
        for k in np.unique(st[:, a][st[:, a] != MISSING]):
            assert np.abs(con.table[token_offsets(n_states)[a] + k + 1]).sum() > 0


def test_contrasts__pair_features_are_rowwise_kronecker_products():
    rng = np.random.default_rng(1)
    za = torch.tensor(rng.standard_normal((5, 3, 2)))
    zb = torch.tensor(rng.standard_normal((5, 3, 2)))
    got = pair_features(za, zb).numpy()
    assert got.shape == (5, 3, 4)
    for i in range(5):
        for p in range(3):
            np.testing.assert_allclose(got[i, p], np.kron(za[i, p].numpy(), zb[i, p].numpy()))


def test_contrasts__pair_tables_are_double_centred():
    st, n_states = _states(seed=2, n=4000)
    con = fit_contrasts(st, n_states)
    offsets = token_offsets(n_states)
    rng = np.random.default_rng(3)
    for a, b in [(0, 1), (1, 3), (0, 2)]:
        pa = np.array([(st[:, a] == k).sum() for k in range(n_states[a])], dtype=float)
        pb = np.array([(st[:, b] == k).sum() for k in range(n_states[b])], dtype=float)
        pa, pb = pa / pa.sum(), pb / pb.sum()
        za = con.table[offsets[a] + 1 : offsets[a] + 1 + n_states[a]].astype(np.float64)
        zb = con.table[offsets[b] + 1 : offsets[b] + 1 + n_states[b]].astype(np.float64)
        beta = rng.standard_normal((con.d, con.d))
        # the table of any coefficient matrix: T[g, h] = (z_a(g) (x) z_b(h)) . vec(beta)
        table = za @ beta @ zb.T
        np.testing.assert_allclose(pa @ table, 0.0, atol=1e-4)  # column means
        np.testing.assert_allclose(table @ pb, 0.0, atol=1e-4)  # row means
        assert np.abs(table).max() > 0.1
        # over samples of independent loci the pair features average to ~0 (sampling error)
        called = (st[:, a] != MISSING) & (st[:, b] != MISSING)
        z = torch.tensor(_z(con, st[called], n_states))
        feats = pair_features(z[:, [a]], z[:, [b]]).numpy()[:, 0]
        assert np.abs(feats.mean(0)).max() < 4 / np.sqrt(called.sum())

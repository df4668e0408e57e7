"""Pair and 3-way tables of HyperAttention (``ha_pair_block``, ``ha_triple_tables``).

Oracle: the model's score enumerated over every state combination of a few loci; its functional
ANOVA components under independent loci with given frequencies, computed by brute force, equal
the pure parts of the closed-form tables.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from genoattn.contract import token_offsets
from genoattn.interpret.effects import PairTables, fanova_pure
from genoattn.interpret.effects import fanova_pure as fanova_pure3
from genoattn.models.ha import HyperAttention, ha_triple_tables

N_STATES = np.array([2, 3, 2, 3])


def _setup(order, seed=0):
    torch.manual_seed(seed)
    s = int(N_STATES.sum()) + 1
    model = HyperAttention(s, order=order, rank=3, value_rank=2, init_scale=0.7).double()
    rng = np.random.default_rng(seed)
    m = int(N_STATES.max())
    freq = np.zeros((len(N_STATES), m))
    for j, k in enumerate(N_STATES):
        freq[j, :k] = rng.dirichlet(np.ones(k))
    off = token_offsets(N_STATES)
    combos = np.array(list(itertools.product(*[range(k) for k in N_STATES])))  # (C, l)
    with torch.no_grad():
        f = model(torch.as_tensor(combos + off + 1)).numpy()  # (C,)
    prob = np.prod([freq[j, combos[:, j]] for j in range(len(N_STATES))], axis=0)
    return model, torch.as_tensor(freq), combos, f, prob


def _cond_mean(combos, f, prob, loci):
    """E[f | states of ``loci``] as an array over their states."""
    shape = tuple(int(N_STATES[j]) for j in loci)
    num, den = np.zeros(shape), np.zeros(shape)
    np.add.at(num, tuple(combos[:, j] for j in loci), prob * f)
    np.add.at(den, tuple(combos[:, j] for j in loci), prob)
    return num / den


@pytest.mark.parametrize("order", [2, 3])
def test_ha_pair_tables__pure_part_equals_brute_force_anova(order):
    model, freq, combos, f, prob = _setup(order)
    tables = PairTables(model, N_STATES, freq)
    e = tables.block(np.arange(4), np.arange(4))  # (4, 4, m, m)
    mean = (prob * f).sum()
    for a, b in itertools.combinations(range(4), 2):
        ka, kb = N_STATES[a], N_STATES[b]
        want = (
            _cond_mean(combos, f, prob, [a, b])
            - _cond_mean(combos, f, prob, [a])[:, None]
            - _cond_mean(combos, f, prob, [b])[None, :]
            + mean
        )
        got = fanova_pure(e[a, b], freq[a], freq[b])[:ka, :kb].numpy()
        np.testing.assert_allclose(got, want, atol=1e-9)
        np.testing.assert_allclose(e[b, a].numpy(), e[a, b].numpy().T, atol=1e-12)


def test_ha_triple_tables__pure_part_equals_brute_force_anova():
    model, freq, combos, f, prob = _setup(3, seed=1)
    tok = PairTables(model, N_STATES, freq).tok
    t = ha_triple_tables(model, tok, np.array([[0, 1, 3]]))[0]
    ka, kb, kc = N_STATES[[0, 1, 3]]
    # pure 3-way ANOVA component by inclusion-exclusion of conditional means
    sub = {}
    for r in range(4):
        for s in itertools.combinations([0, 1, 3], r):
            sub[s] = _cond_mean(combos, f, prob, list(s)) if s else np.array((prob * f).sum())
    want = np.zeros((ka, kb, kc))
    for s, v in sub.items():
        sign = (-1) ** (3 - len(s))
        idx = tuple(slice(None) if j in s else None for j in (0, 1, 3))
        want = want + sign * v[idx]
    got = fanova_pure3(t, freq[0], freq[1], freq[3])[:ka, :kb, :kc].numpy()
    np.testing.assert_allclose(got, want, atol=1e-9)


@pytest.mark.slow
def test_export__sgd_hyperattention_run_gives_pair_and_residue_tables(tmp_path):
    """fit auto restricted to sgd HyperAttention with the link, then export: the planted column
    pair ranks first and the residue-level table covers its 4 x 4 residues."""
    from test_sparse_link import sgd_ha_run

    from genoattn.config import ExportConfig
    from genoattn.interpret.export import export as export_pairs

    ds, run = sgd_ha_run(tmp_path / "run", n=1500, l=6, max_epochs=40)
    assert isinstance(run.predictor.genetic, HyperAttention) and run.predictor.ge_a.numel() == 4
    exp = export_pairs(run, ds, ExportConfig(top=5), log=lambda s: None)
    assert tuple(sorted(exp.pairs[0].tolist())) == (1, 4)
    first = exp.alleles.filter(exp.alleles["rank"] == 1)
    assert first.height == 16 and set(first["state_a"].to_list()) == set("ACGT")

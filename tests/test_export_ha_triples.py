"""3-way tables of sgd HyperAttention runs (``effects.model_triples``, ``export --order 3``).

Oracles: for a random linear order-3 HyperAttention, every locus triple's closed-form table
(``ha_triple_tables``) with padded states zeroed, scored one triple at a time by its pure 3-way
variance and sorted: the blocked top-k must be that list's head; the exported residue-level
table of the best triple must be the pure part of that triple's table (trait units).
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from genoattn.contract import token_offsets
from genoattn.interpret.effects import fanova_pure, interaction_variance, model_triples
from genoattn.models.ha import HyperAttention, ha_triple_tables

N_STATES = np.array([2, 3, 2, 3, 2, 3])


def _model_and_freq(seed: int = 0):
    torch.manual_seed(seed)
    s = int(N_STATES.sum()) + 1
    model = HyperAttention(s, order=3, rank=3, value_rank=2, init_scale=0.7).double()
    rng = np.random.default_rng(seed)
    freq = np.zeros((len(N_STATES), int(N_STATES.max())))
    for j, k in enumerate(N_STATES):
        freq[j, :k] = rng.dirichlet(np.ones(k))
    return model, torch.as_tensor(freq)


def test_model_triples__blocked_top_k_equals_one_by_one_ranking():
    model, freq = _model_and_freq()
    m = int(N_STATES.max())
    off = token_offsets(N_STATES)
    tok = torch.zeros(len(N_STATES), m, dtype=torch.int64)
    for j, k in enumerate(N_STATES):
        tok[j, :k] = torch.as_tensor(off[j] + np.arange(k) + 1)
    naive = []
    for t in itertools.combinations(range(len(N_STATES)), 3):
        e = ha_triple_tables(model, tok, np.array([t]))[0]
        ka, kb, kc = (int(N_STATES[j]) for j in t)
        e_pad = torch.zeros_like(e)
        e_pad[:ka, :kb, :kc] = e[:ka, :kb, :kc]  # padded states carry no table
        score = float(interaction_variance(e_pad, *(freq[j] for j in t)))
        naive.append((score, t, e_pad))
    naive.sort(key=lambda r: -r[0])
    loci, tables = model_triples(model, N_STATES, freq, keep=5, block=3)  # 20 triples, 7 blocks
    assert [tuple(x) for x in loci.tolist()] == [r[1] for r in naive[:5]]
    for got, (_, _, want) in zip(tables, naive[:5], strict=True):
        np.testing.assert_allclose(got.numpy(), want.numpy(), atol=1e-12)


def test_model_triples__stored_blocks_and_models_without_triples():
    class Stored(torch.nn.Module):
        def triple_effects(self):
            return np.array([[0, 1, 2]]), torch.ones(1, 3, 3, 3)

    loci, tables = model_triples(Stored(), N_STATES, torch.ones(6, 3) / 3, keep=5)
    assert loci.tolist() == [[0, 1, 2]] and tables.shape == (1, 3, 3, 3)
    loci, tables = model_triples(torch.nn.Linear(2, 1), N_STATES, torch.ones(6, 3), keep=5)
    assert len(loci) == 0 and tables is None


@pytest.mark.slow
def test_export_order_3__sgd_hyperattention_run(tmp_path):
    """fit auto restricted to sgd HyperAttention, then export --order 3: triples ranked by
    model_triples, the residue-level table of the first one is its pure 3-way part."""
    from test_sparse_link import sgd_ha_run

    from genoattn.config import ExportConfig
    from genoattn.interpret.export import export

    ds, run = sgd_ha_run(tmp_path / "run", n=800, l=5, max_epochs=10)
    exp = export(run, ds, ExportConfig(order=3, top=3), log=lambda s: None)
    assert exp.pairs.shape[1] == 3 and len(exp.pairs) >= 1
    first = exp.alleles.filter(exp.alleles["rank"] == 1)
    assert first.height == 64  # 4 x 4 x 4 residues
    # the exported pure effects: the pure part of the model's own table, in trait units
    from genoattn.interpret.effects import state_frequencies, token_table
    from genoattn.interpret.export import split_rows

    n_states = run.loci["n_states"].to_numpy()
    st = np.asarray(ds.cohort.states[split_rows(run, ds, "train")])
    freq = torch.as_tensor(state_frequencies(st, n_states), dtype=torch.float32)
    t = exp.pairs[0]
    e = ha_triple_tables(run.predictor.genetic, token_table(n_states), t[None])[0]
    want = fanova_pure(e.float() * float(run.predictor.y_std), *(freq[j] for j in t))
    np.testing.assert_allclose(exp.tables[0], want.numpy(), atol=1e-4)
    assert np.abs(exp.tables[0]).max() > 0

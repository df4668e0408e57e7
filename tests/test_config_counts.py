"""Choice options validated by their enums in config.py, and states counted in one place
(encode.qc.state_counts) by the QC, the contrasts and the auto fit's pair cap."""

from __future__ import annotations

import numpy as np
import pytest

from genoattn.config import ExportConfig, FitMethod, InteractionTest, ModelConfig, ModelKind
from genoattn.contract import MISSING
from genoattn.encode.qc import state_counts
from genoattn.errors import GenoattnError
from genoattn.sparse.contrasts import fit_contrasts


def test_export_test__validated_by_the_interaction_test_enum():
    for t in InteractionTest:
        assert ExportConfig(test=t).test == t.value  # a typer member becomes its value
        assert ExportConfig(test=t.value).test == t.value
    with pytest.raises(
        GenoattnError, match=r"export.test must be one of \('product', 'genotype'\)"
    ):
        ExportConfig(test="wald")


def test_model_choices__members_or_strings_and_the_default_route():
    m = ModelConfig(kind=ModelKind.hfa)
    assert (m.kind, m.fit) == ("hfa", "sgd")
    assert ModelConfig(kind="rfa", fit=FitMethod.ridge).fit == "ridge"
    assert (ModelConfig().kind, ModelConfig().fit) == ("sa", "auto")
    with pytest.raises(GenoattnError, match="model.kind must be one of"):
        ModelConfig(kind="mlp", fit="bogus")  # the kind is reported first, as before
    with pytest.raises(GenoattnError, match="model.fit must be one of"):
        ModelConfig(kind="sa", fit="adam")


def _naive_counts(states: np.ndarray, n_states: np.ndarray) -> np.ndarray:
    out = np.zeros((states.shape[1], int(n_states.max())), dtype=np.int64)
    for i in range(states.shape[0]):
        for a in range(states.shape[1]):
            if states[i, a] != MISSING:
                out[a, states[i, a]] += 1
    return out


def test_state_counts__rows_as_mask_indices_or_all_equal_a_per_call_loop():
    rng = np.random.default_rng(3)
    n_states = np.array([3, 2, 5, 3])
    st = np.column_stack([rng.integers(0, k, 120) for k in n_states]).astype(np.int8)
    st[rng.random(st.shape) < 0.1] = MISSING
    rows = np.sort(rng.choice(120, 70, replace=False))
    mask = np.zeros(120, dtype=bool)
    mask[rows] = True
    want = _naive_counts(st[rows], n_states)
    np.testing.assert_array_equal(state_counts(st, n_states, rows), want)
    np.testing.assert_array_equal(state_counts(st, n_states, mask), want)
    np.testing.assert_array_equal(state_counts(st, n_states), _naive_counts(st, n_states))


def test_contrasts__reference_state_and_pooling_follow_the_counts():
    # locus 0: state 1 most common (the reference), state 2 seen twice (pooled at min_count 3)
    st = np.array([[1] * 10 + [0] * 6 + [2] * 2 + [MISSING] * 2]).T.astype(np.int8)
    con = fit_contrasts(st, np.array([3]), min_count=3)
    assert con.n_active.tolist() == [1]  # states 0 and 1 observed often enough: one contrast
    z = con.locus[0, 1:4, 0]  # contrasts of states 0, 1, 2
    assert z[2] == 0.0  # pooled with the mean
    p0 = 6 / 16  # frequency of the non-reference state among the counted calls
    np.testing.assert_allclose(z[0], (1 - p0) / np.sqrt(p0 * (1 - p0)), rtol=1e-5)
    np.testing.assert_allclose(z[1], -p0 / np.sqrt(p0 * (1 - p0)), rtol=1e-5)

"""One ``fanova_pure`` / ``interaction_variance`` for any order, checked against the separate
order-2 and order-3 functions they replaced (kept here, verbatim, as references)."""

from __future__ import annotations

import numpy as np
import torch

from genoattn.interpret.effects import fanova_pure, interaction_variance


def _pure2(e, pa, pb):  # the former effects.fanova_pure (double centring)
    row = (e * pb[..., None, :]).sum(-1, keepdim=True)
    col = (e * pa[..., :, None]).sum(-2, keepdim=True)
    grand = (row * pa[..., :, None]).sum(-2, keepdim=True)
    return e - row - col + grand


def _pure3(e, pa, pb, pc):  # the former effects.fanova_pure3
    out = e - (e * pa[..., :, None, None]).sum(-3, keepdim=True)
    out = out - (out * pb[..., None, :, None]).sum(-2, keepdim=True)
    return out - (out * pc[..., None, None, :]).sum(-1, keepdim=True)


def _var2(e, pa, pb):  # the former effects.interaction_variance
    return (pa[..., :, None] * pb[..., None, :] * _pure2(e, pa, pb) ** 2).sum((-1, -2))


def _var3(e, pa, pb, pc):  # the former effects.interaction_variance3
    w = pa[..., :, None, None] * pb[..., None, :, None] * pc[..., None, None, :]
    return (w * _pure3(e, pa, pb, pc) ** 2).sum((-1, -2, -3))


def _freqs(rng, shape, m):
    p = rng.random((*shape, m))
    p[..., -1] *= rng.random(shape) < 0.5  # some loci lack their last state
    return torch.as_tensor(p / p.sum(-1, keepdims=True))


def test_fanova_pure__order_2_and_3_equal_the_former_functions():
    rng = np.random.default_rng(0)
    e2 = torch.as_tensor(rng.normal(size=(5, 7, 3, 3)))
    pa, pb = _freqs(rng, (5, 1), 3), _freqs(rng, (1, 7), 3)  # broadcast as rank_pairs does
    torch.testing.assert_close(fanova_pure(e2, pa, pb), _pure2(e2, pa, pb), rtol=0, atol=1e-12)
    torch.testing.assert_close(
        interaction_variance(e2, pa, pb), _var2(e2, pa, pb), rtol=0, atol=1e-12
    )
    e3 = torch.as_tensor(rng.normal(size=(6, 3, 3, 3)))
    p3 = [_freqs(rng, (6,), 3) for _ in range(3)]
    torch.testing.assert_close(fanova_pure(e3, *p3), _pure3(e3, *p3), rtol=0, atol=1e-12)
    torch.testing.assert_close(interaction_variance(e3, *p3), _var3(e3, *p3), rtol=0, atol=1e-12)


def test_interaction_variance__a_product_of_main_effects_has_none_at_any_order():
    rng = np.random.default_rng(1)
    p = [_freqs(rng, (), 3) for _ in range(3)]
    f = [torch.as_tensor(rng.normal(size=3)) for _ in range(3)]
    additive = f[0][:, None, None] + f[1][None, :, None] + f[2][None, None, :]
    pairwise = f[0][:, None, None] * f[1][None, :, None] + f[2][None, None, :]  # no 3-way part
    assert float(interaction_variance(additive, *p)) < 1e-20
    assert float(interaction_variance(pairwise, *p)) < 1e-20
    assert float(interaction_variance(pairwise.sum(-1), p[0], p[1])) > 1e-3  # its pair part

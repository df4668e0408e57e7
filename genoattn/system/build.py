"""Build a genetic model from its config and the cohort's vocabulary (no data, no training)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import polars as pl
import torch
from torch import nn

from genoattn.config import ModelConfig
from genoattn.contract import token_locus_state
from genoattn.models.additive import Additive
from genoattn.models.block_sa import BlockSALin
from genoattn.models.ha import HyperAttention
from genoattn.models.hfa import HyperFeatureAttention
from genoattn.models.rfa import RandomFeatureAttention
from genoattn.models.sa import SALin


@dataclass(frozen=True)
class Vocab:
    """What a model needs to know of the entity domain S.

    n_states: shape (l,) states per locus. labels: every distinct state label, in a fixed order.
    token_label: shape (s,), int64, index into ``labels`` of each token's state (-1 for padding).
    """

    n_states: np.ndarray
    labels: tuple[str, ...]
    token_label: np.ndarray

    @property
    def n_loci(self) -> int:
        return len(self.n_states)

    @property
    def size(self) -> int:
        return int(self.n_states.sum()) + 1

    @property
    def token_locus(self) -> np.ndarray:
        return token_locus_state(self.n_states)[0]

    @property
    def token_state(self) -> np.ndarray:
        return token_locus_state(self.n_states)[1]

    @property
    def max_states(self) -> int:
        return int(self.n_states.max()) if len(self.n_states) else 1


def vocab_of(loci: pl.DataFrame) -> Vocab:
    """The vocabulary of a locus table (contract schema)."""
    states = loci["states"].to_list()
    labels = tuple(sorted({s for st in states for s in st}))
    pos = {s: i for i, s in enumerate(labels)}
    token_label = np.concatenate([[-1]] + [[pos[s] for s in st] for st in states]).astype(np.int64)
    return Vocab(loci["n_states"].to_numpy().astype(np.int64), labels, token_label)


def build_genetic_model(cfg: ModelConfig, vocab: Vocab, seed: int = 0) -> nn.Module:
    """The nn.Module (tokens (b, l) -> (b,)) of a gradient- or ridge-fit model.

    The sparse fit produces a :class:`BlockSALin` from its solution instead (see ``fit.py``).
    """
    torch.manual_seed(seed)
    s = vocab.size
    if cfg.kind == "additive":
        return Additive(s)
    l = max(vocab.n_loci, 1)
    if cfg.kind == "sa":
        # the cohort score sums l^2 terms f(s_i, s_j) w: scale the initial factors so that it
        # starts O(1) (r * l * init^2 ~ 1), or the first Adam steps chase an O(l) output
        r = cfg.rank if cfg.rank else vocab.size
        return SALin(s, rank=None if cfg.rank == 0 else cfg.rank, init_scale=(r * l) ** -0.5)
    if cfg.kind == "hfa":
        return HyperFeatureAttention(
            torch.as_tensor(vocab.token_locus),
            torch.as_tensor(vocab.token_label),
            vocab.n_loci,
            len(vocab.labels),
            heads=cfg.heads,
            rank=max(cfg.rank, 1),
        )
    if cfg.kind == "ha":
        # the score sums l^order terms: start it O(1) whatever the panel size
        init = (l ** (cfg.order / 2)) ** (-1 / (2 * cfg.order - 1))
        return HyperAttention(
            s, order=cfg.order, rank=max(cfg.rank, 1), value_rank=cfg.value_rank, init_scale=init
        )
    if cfg.kind == "rfa":
        return RandomFeatureAttention(
            cfg.rfa_heads, cfg.rfa_dim, vocab_size=s, mean=cfg.rfa_mean, seed=seed
        )
    raise AssertionError(cfg.kind)


#: the parameter of each attention model that its output is linear in (rescaled at initialisation)
_VALUE_PARAM = {"sa": "Wq", "hfa": "v_locus", "ha": "c"}


def attention_lr_scale(cfg: ModelConfig, vocab: Vocab) -> float:
    """Step-size factor of the attention parameters: 1 / sqrt(number of entity tuples).

    The cohort score sums a term over every pair (order-n tuple for HyperAttention) of entities,
    and an Adam step moves every factor entry by about lr at once, so the score moves by about
    lr times the number of tuples the factors enter coherently. Dividing by sqrt(tuples) keeps
    the first steps of a 40-locus and a 40,000-locus panel comparable (the readout keeps lr).
    """
    if cfg.kind in ("additive", "rfa"):
        return 1.0
    l = max(vocab.n_loci, 2)
    order = cfg.order if cfg.kind == "ha" else 2
    tuples = float(math.comb(l, order))
    return min(1.0, cfg.lr_tuples_ref / math.sqrt(tuples))


def main_lr_scale(cfg: ModelConfig, vocab: Vocab) -> float:
    """Step-size factor of the per-token main effects: min(1, lr_tuples_ref / loci).

    Every locus's main effect moves by about lr per Adam step, coherently, so the score moves by
    about lr times the number of loci; on a 2,729-locus panel full steps overfit the warm start
    within one epoch.
    """
    return min(1.0, cfg.lr_tuples_ref / max(vocab.n_loci, 1))


@torch.no_grad()
def scale_initial_output(genetic: nn.Module, kind: str, tokens: torch.Tensor, std: float) -> None:
    """Rescale the value parameter so that the initial genetic score has this root mean square
    on ``tokens`` (RMS, not std: a large constant offset would fight the warm-started intercept).

    The attention part then starts as a small perturbation of the main effects it is warm-started
    next to, instead of an O(1) random function of the genotypes.
    """
    name = _VALUE_PARAM.get(kind)
    if name is None:
        return
    out = genetic(tokens)
    sd = float(out.pow(2).mean().sqrt()) if out.numel() else 0.0
    if sd > 0:
        getattr(genetic, name).mul_(std / sd)


def empty_block_model(vocab: Vocab, n_pairs: int, n_triples: int = 0) -> BlockSALin:
    """A BlockSALin of the right shapes, to load saved tensors into."""
    m = vocab.max_states
    return BlockSALin(
        torch.zeros(vocab.size),
        torch.as_tensor(vocab.token_state),
        torch.zeros((n_pairs, 2), dtype=torch.int64),
        torch.zeros((n_pairs, m, m)),
        torch.zeros((n_triples, 3), dtype=torch.int64),
        torch.zeros((n_triples, m, m, m)),
    )

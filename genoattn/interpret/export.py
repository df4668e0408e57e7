"""``genoattn export``: rank interactions from a run's learned parameters, clump, confirm.

1. score every locus pair by the variance of its pure interaction (``effects.py``), in blocks, so
   that all pairs of 10,000 loci are scored without holding an l x l x m x m array;
2. keep the best candidates, LD-clump them (one signal, one row);
3. test each kept pair on the run's test samples, which neither the fit nor the model selection
   ever saw: effect, SE, statistic and p-value from a classical interaction test with covariates.
   Because selection used other samples, these p-values are valid as they stand (no
   winner's-curse correction needed) — a Bonferroni correction over the reported rows suffices.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import polars as pl
import torch

from genoattn.config import ExportConfig
from genoattn.contract import Dataset
from genoattn.errors import GenoattnError
from genoattn.interpret.clump import clump
from genoattn.interpret.confirm import confirm_pairs
from genoattn.interpret.effects import (
    PairTables,
    fanova_pure,
    interaction_variance,
    state_frequencies,
)
from genoattn.interpret.table import pair_table
from genoattn.system.rundir import Run


@dataclass
class Export:
    """The ranked table, the allele-level long table and what the plots need."""

    table: pl.DataFrame
    pairs: np.ndarray  # (k, 2) locus indices of the rows of ``table``
    alleles: pl.DataFrame
    tables: np.ndarray  # (k, m, m) pure interaction tables of the rows of ``table``
    scores_by_locus: pl.DataFrame  # best score of each locus (for the position plot)


def rank_pairs(tables: PairTables, freq: torch.Tensor, scale: float, keep: int,
               block: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """Top ``keep`` pairs (a < b) by interaction variance, scanning all pairs in blocks.

    freq: shape (l, m) state frequencies. Returns (pairs (k, 2), scores (k,)), best first.
    """
    l = freq.shape[0]
    sp = tables.sparse_pairs
    if sp is not None:  # block-sparse model: only its stored pairs can be non-zero
        pairs = np.sort(sp, axis=1).reshape(-1, 2)
        e = tables.pairs(pairs)
        s = interaction_variance(e, freq[pairs[:, 0]], freq[pairs[:, 1]]).numpy() * scale
        order = np.argsort(-s, kind="stable")[:keep]
        return pairs[order], s[order]
    best_s = np.zeros(0)
    best_p = np.zeros((0, 2), dtype=np.int64)
    for a0 in range(0, l, block):
        ia = np.arange(a0, min(a0 + block, l))
        for b0 in range(a0, l, block):
            ib = np.arange(b0, min(b0 + block, l))
            e = tables.block(ia, ib)  # (a, b, m, m)
            s = interaction_variance(e, freq[ia][:, None], freq[ib][None, :]) * scale
            s = torch.where(torch.as_tensor(ib[None, :] > ia[:, None]), s,
                            torch.full_like(s, -1.0))
            k = min(keep, s.numel())
            top = torch.topk(s.flatten(), k)
            pa = ia[(top.indices // len(ib)).numpy()]
            pb = ib[(top.indices % len(ib)).numpy()]
            best_s = np.concatenate([best_s, top.values.numpy()])
            best_p = np.concatenate([best_p, np.stack([pa, pb], 1)])
            if len(best_s) > keep:
                o = np.argsort(-best_s, kind="stable")[:keep]
                best_s, best_p = best_s[o], best_p[o]
    o = np.argsort(-best_s, kind="stable")
    ok = best_s[o] > 0
    return best_p[o][ok], best_s[o][ok]


def export_pairs(run: Run, ds: Dataset, cfg: ExportConfig,
                 log: Callable[[str], None] = print) -> Export:
    """Ranked, clumped, held-out-confirmed pair table of a run."""
    if ds.cohort.loci["id"].to_list() != run.loci["id"].to_list():
        raise GenoattnError("the run's input no longer gives the loci it was fit on (input or "
                            "QC changed since `genoattn fit`)", run.path)
    n_states = run.loci["n_states"].to_numpy()
    tr_rows = _rows(run, ds, "train")
    freq = torch.as_tensor(state_frequencies(np.asarray(ds.cohort.states[tr_rows]), n_states),
                           dtype=torch.float32)
    pred = run.predictor
    scale = float(pred.y_std) ** 2
    tables = PairTables(pred.genetic, n_states)
    cand, scores = rank_pairs(tables, freq, scale, max(cfg.top * 20, 200), cfg.block)
    log(f"export: scored pairs; {len(cand)} candidates with a non-zero interaction")
    ranked = pl.DataFrame({"idx_a": cand[:, 0], "idx_b": cand[:, 1], "score": scores})
    ranked = clump(ranked, ds.cohort, r2=cfg.clump_r2, window_kb=cfg.clump_kb).head(cfg.top)
    pairs = ranked.select("idx_a", "idx_b").to_numpy().reshape(-1, 2)
    test_rows = _rows(run, ds, "test")
    if len(test_rows) == 0:
        raise GenoattnError("the run has no test samples to confirm interactions on "
                            "(fit with train.test_fraction > 0)", run.path)
    conf = confirm_pairs(ds, pairs, rows=test_rows, test=cfg.test)
    conf = conf.select([c for c in conf.columns if c not in ("idx_a", "idx_b")])
    conf = conf.rename({c: f"heldout_{c}" for c in conf.columns})
    stats = pl.concat([ranked.drop("idx_a", "idx_b").with_row_index("rank", offset=1), conf],
                      how="horizontal")
    table = pair_table(ds.cohort.loci, pairs[:, 0], pairs[:, 1], stats)
    e = tables.pairs(pairs) * float(pred.y_std)
    pure = fanova_pure(e, freq[pairs[:, 0]], freq[pairs[:, 1]]).numpy() if len(pairs) \
        else np.zeros((0, 1, 1))
    alleles = _allele_table(ds, pairs, pure)
    by_locus = pl.DataFrame({"idx": np.concatenate([cand[:, 0], cand[:, 1]]),
                             "score": np.concatenate([scores, scores])}) \
        .group_by("idx").agg(pl.col("score").max()).sort("idx")
    by_locus = pl.concat([by_locus, ds.cohort.loci[by_locus["idx"].to_list()]
                          .select("chrom", "pos", "id")], how="horizontal")
    return Export(table, pairs, alleles, pure, by_locus)


def _rows(run: Run, ds: Dataset, split: str) -> np.ndarray:
    """Rows of ``ds`` that the run put in ``split`` (matched by sample ID)."""
    ids = set(run.samples[run.split[split]].tolist())
    return np.flatnonzero(np.isin(ds.cohort.samples.astype(str), list(ids)))


def _allele_table(ds: Dataset, pairs: np.ndarray, pure: np.ndarray) -> pl.DataFrame:
    """One row per (pair, state_a, state_b) with the pure interaction effect (trait units)."""
    loci = ds.cohort.loci
    ids = loci["id"].to_list()
    labels = loci["states"].to_list()
    rows = []
    for r, ((a, b), t) in enumerate(zip(pairs.tolist(), pure, strict=True), start=1):
        for g, sa in enumerate(labels[a]):
            for h, sb in enumerate(labels[b]):
                rows.append((r, ids[a], sa, ids[b], sb, float(t[g, h])))
    return pl.DataFrame(rows, schema={"rank": pl.Int64, "id_a": pl.String, "state_a": pl.String,
                                      "id_b": pl.String, "state_b": pl.String,
                                      "interaction_effect": pl.Float64}, orient="row")

"""``genoattn export``: rank interactions from a run's learned parameters, clump, confirm.

1. score every locus pair by the variance of its pure interaction (``effects.py``), in blocks, so
   that all pairs of 10,000 loci are scored without holding an l x l x m x m array;
2. keep the best candidates, LD-clump them (one signal, one row); a sparse fit's pairs are
   followed by the other pairs its screen ranks on the fit's samples (``screened.py``);
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
from genoattn.interpret.confirm import condition_sets, confirm_pairs, confirm_triples
from genoattn.interpret.effects import (
    PairTables,
    fanova_pure,
    interaction_variance,
    model_triples,
    state_frequencies,
)
from genoattn.interpret.screened import affordable, screened_pairs
from genoattn.interpret.stability import selection_frequency
from genoattn.interpret.table import tuple_table
from genoattn.stats.topk import top_pairs
from genoattn.system.rundir import Run

Log = Callable[[str], None]


@dataclass
class Export:
    """The ranked table, the allele-level long table and what the plots need."""

    table: pl.DataFrame
    pairs: np.ndarray  # (k, order) locus indices of the rows of ``table``
    alleles: pl.DataFrame
    tables: np.ndarray  # (k, m, m[, m]) pure interaction tables of the rows of ``table``
    scores_by_locus: pl.DataFrame  # best score of each locus (for the position plot)
    test: str = "genotype"  # held-out test actually run (product falls back to genotype)
    binary: bool = False  # effects on the log-odds scale (case/control trait)


def rank_pairs(
    tables: PairTables,
    freq: torch.Tensor,
    scale: float,
    keep: int,
    block: int = 1024,
    progress: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """Top ``keep`` pairs (a < b) by interaction variance, scanning all pairs in blocks
    (``stats/topk.top_pairs``; a block-sparse model's stored pairs are scored as a list).

    freq: shape (l, m) state frequencies. Returns (pairs (k, 2), scores (k,)), best first.
    ``progress``: a tqdm bar over the blocks on stderr.
    """
    l = freq.shape[0]
    sp = tables.sparse_pairs
    if sp is not None:  # block-sparse model: only its stored pairs can be non-zero
        pairs = np.sort(sp, axis=1).reshape(-1, 2)
        e = tables.pairs(pairs)
        s = interaction_variance(e, freq[pairs[:, 0]], freq[pairs[:, 1]]).numpy() * scale
        order = np.argsort(-s, kind="stable")[:keep]
        return pairs[order], s[order]

    def score(a: slice, b: slice) -> torch.Tensor:  # (la, lb)
        ia, ib = np.arange(a.start, a.stop), np.arange(b.start, b.stop)
        e = tables.block(ia, ib)  # (la, lb, m, m)
        return interaction_variance(e, freq[ia][:, None], freq[ib][None, :]) * scale

    bar = "export: scoring pairs" if progress else None
    pairs, s = top_pairs(score, l, keep, block, bar)  # stats/topk.py
    return pairs[s > 0], s[s > 0].astype(np.float64)


def _frequencies(run: Run, ds: Dataset) -> torch.Tensor:
    """(l, m) state frequencies of the run's training samples; checks the loci still match."""
    if ds.cohort.loci["id"].to_list() != run.loci["id"].to_list():
        raise GenoattnError(
            "the run's input no longer gives the loci it was fit on (input or "
            "QC changed since `genoattn fit`)",
            run.path,
        )
    n_states = run.loci["n_states"].to_numpy()
    tr_rows = split_rows(run, ds, "train")
    return torch.as_tensor(
        state_frequencies(np.asarray(ds.cohort.states[tr_rows]), n_states), dtype=torch.float32
    )


def _confirmed(
    run: Run, ds: Dataset, ranked: pl.DataFrame, tuples: np.ndarray, cfg: ExportConfig
) -> tuple[pl.DataFrame, str]:
    """Ranked rows + held-out test columns (heldout_effect, _se, _stat, _p, _n, _df1, _df2,
    _note) and the name of the test that was run."""
    test_rows = split_rows(run, ds, "test")
    if len(test_rows) == 0:
        raise GenoattnError(
            "the run has no test samples to confirm interactions on "
            "(fit with train.test_fraction > 0)",
            run.path,
        )
    fn = confirm_pairs if tuples.shape[1] == 2 else confirm_triples
    test = cfg.test
    if test == "product" and not ds.cohort.is_biallelic()[np.unique(tuples)].all():
        test = "genotype"  # no dosage for multi-allelic or sequence loci: state-class test
    cond = condition_sets(cfg.condition, ds.cohort, tuples, cfg.clump_kb, run.predictor.genetic)
    conf = fn(ds, tuples, rows=test_rows, test=test, condition=cond)
    conf = conf.with_columns(selection_frequency(run.path, tuples))  # stability.py
    conf = conf.select([c for c in conf.columns if not c.startswith("idx_")])
    conf = conf.rename({c: f"heldout_{c}" for c in conf.columns})
    keep = [c for c in ranked.columns if not c.startswith("idx_")]
    ranked = ranked.select(keep).with_row_index("rank", offset=1)
    return pl.concat([ranked, conf], how="horizontal"), test


def _by_locus(ds: Dataset, tuples: np.ndarray, scores: np.ndarray) -> pl.DataFrame:
    """Best score of every locus that appears in a scored tuple, with its position."""
    by_locus = (
        pl.DataFrame({"idx": tuples.T.reshape(-1), "score": np.tile(scores, tuples.shape[1])})
        .group_by("idx")
        .agg(pl.col("score").max())
        .sort("idx")
    )
    return pl.concat(
        [by_locus, ds.cohort.loci[by_locus["idx"].to_list()].select("chrom", "pos", "id")],
        how="horizontal",
    )


@dataclass
class _Candidates:
    """Scored candidate tuples (k, order) of a run, best first, and their effect tables;
    ``extra``: IN_MODEL / SCREEN columns of a sparse fit's rows (``screened.py``)."""

    tuples: np.ndarray
    scores: np.ndarray
    effects: Callable[[np.ndarray], torch.Tensor]  # rows of ``tuples`` -> (r, m, ..., m)
    extra: dict[str, np.ndarray] | None = None
    n_model: int | None = None  # the first n_model tuples are the model's (None: all)


def _pair_candidates(
    run: Run, ds: Dataset, freq: torch.Tensor, cfg: ExportConfig, progress: bool, log: Log
) -> _Candidates:
    """Every locus pair scored in blocks; the best ``max(20 top, 200)`` kept. A block-sparse
    model's pairs are followed by the other pairs its screen ranks on the fit's samples."""
    tables = PairTables(run.predictor.genetic, run.loci["n_states"].to_numpy(), freq)
    scale = float(run.predictor.y_std) ** 2
    keep = max(cfg.top * 20, 200)
    cand, scores = rank_pairs(tables, freq, scale, keep, cfg.block, progress)
    model = _Candidates(cand, scores, lambda rows: tables.pairs(cand[rows]))
    if tables.sparse_pairs is None or not cfg.screened:
        return model
    learn = np.concatenate([split_rows(run, ds, "train"), split_rows(run, ds, "val")])
    if not affordable(len(learn), ds.cohort.n_loci):
        log(f"export: the model's pairs only (a screen of all pairs on {len(learn)} samples x "
            f"{ds.cohort.n_loci} loci exceeds the export's budget; rank every pair with "
            "`genoattn scan`)")  # fmt: skip
        return model
    scr = screened_pairs(run, ds, np.sort(learn), keep)  # screened.py
    stored = {tuple(t): s for t, s in zip(np.sort(tables.sparse_pairs, 1).tolist(),
                                          scr.kept_screen.tolist(), strict=True)}  # fmt: skip
    own = np.array([stored[tuple(t)] for t in cand.tolist()]).reshape(-1)
    both = np.concatenate([cand, scr.pairs]).reshape(-1, 2)
    flag = np.r_[np.ones(len(cand), dtype=bool), np.zeros(len(scr.pairs), dtype=bool)]
    extra = {"in_model": flag, "screen": np.r_[own, scr.screen]}
    return _Candidates(both, np.r_[scores, np.zeros(len(scr.pairs))],
                       lambda rows: tables.pairs(both[rows]), extra, len(cand))  # fmt: skip


def _triple_candidates(run: Run, freq: torch.Tensor, top: int) -> _Candidates:
    """The 3-way blocks of the run's model (stored blocks, or an sgd HyperAttention's top
    triples), scored."""
    n_states = run.loci["n_states"].to_numpy()
    trip, e = model_triples(run.predictor.genetic, n_states, freq, keep=max(20 * top, 200))
    if len(trip) == 0:
        raise GenoattnError(
            "export --order 3: this run holds no 3-way interaction blocks; fit "
            "--model ha (sparse HyperAttention) or an order-3 sgd HyperAttention",
            run.path,
        )
    scale = float(run.predictor.y_std) ** 2
    scores = interaction_variance(e, *(freq[trip[:, j]] for j in range(3))).numpy() * scale
    o = np.argsort(-scores, kind="stable")
    return _Candidates(trip[o], scores[o], lambda rows: e[o][rows])


def export(run: Run, ds: Dataset, cfg: ExportConfig, log: Log = print, progress: bool = False):
    """Ranked, clumped, held-out-confirmed table of the run's interactions of order ``cfg.order``
    (pairs: every locus pair scored in blocks, ``progress`` a bar over them; triples: the model's
    stored 3-way blocks)."""
    freq = _frequencies(run, ds)
    k = cfg.order
    if k == 3:
        cand = _triple_candidates(run, freq, cfg.top)
        log(f"export: {len(cand.tuples)} triples with a non-zero 3-way block")
    else:
        cand = _pair_candidates(run, ds, freq, cfg, progress, log)
        log(f"export: scored pairs; {cand.n_model or len(cand.tuples)} candidates with a "
            "non-zero interaction" + ("" if cand.extra is None else
            f", {len(cand.tuples) - cand.n_model} more screened on the fit's samples"))  # fmt: skip
    cols = [f"idx_{c}" for c in "abc"[:k]]
    ranked = pl.DataFrame(
        {**dict(zip(cols, cand.tuples.T, strict=True)), "score": cand.scores, **(cand.extra or {})}
    )
    ranked = clump(ranked, ds.cohort, r2=cfg.clump_r2, window_kb=cfg.clump_kb).head(cfg.top)
    tuples = np.array(ranked.select(cols).to_numpy()).reshape(-1, k)
    stats, test = _confirmed(run, ds, ranked, tuples, cfg)
    table = tuple_table(ds.cohort.loci, list(tuples.T), stats)
    pos = {tuple(t): i for i, t in enumerate(cand.tuples.tolist())}
    rows = np.array([pos[tuple(t)] for t in tuples.tolist()], dtype=np.int64)
    pure = np.zeros((0, *([1] * k)))
    if len(rows):
        e = cand.effects(rows) * float(run.predictor.y_std)
        pure = fanova_pure(e, *(freq[tuples[:, j]] for j in range(k))).numpy()
    alleles = _allele_table(ds, tuples, pure)
    by_locus = _by_locus(ds, cand.tuples[: cand.n_model], cand.scores[: cand.n_model])
    return Export(table, tuples, alleles, pure, by_locus, test, bool(ds.binary))


def split_rows(run: Run, ds: Dataset, split: str) -> np.ndarray:
    """Rows of ``ds`` that the run put in ``split`` (matched by sample ID)."""
    ids = set(run.samples[run.split[split]].tolist())
    return np.flatnonzero(np.isin(ds.cohort.samples.astype(str), list(ids)))


def _allele_table(ds: Dataset, tuples: np.ndarray, pure: np.ndarray) -> pl.DataFrame:
    """One row per (tuple, state combination) with its pure interaction effect (trait units)."""
    import itertools

    loci = ds.cohort.loci
    ids = loci["id"].to_list()
    labels = loci["states"].to_list()
    sfx = "abc"[: tuples.shape[1]]
    rows = []
    for r, (t, tab) in enumerate(zip(tuples.tolist(), pure, strict=True), start=1):
        for combo in itertools.product(*[range(len(labels[x])) for x in t]):
            row = [r]
            for x, g in zip(t, combo, strict=True):
                row += [ids[x], labels[x][g]]
            rows.append((*row, float(tab[combo])))
    schema = {"rank": pl.Int64}
    for c in sfx:
        schema |= {f"id_{c}": pl.String, f"state_{c}": pl.String}
    schema["interaction_effect"] = pl.Float64
    return pl.DataFrame(rows, schema=schema, orient="row")

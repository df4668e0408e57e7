"""``genoattn fit``: split, standardise, fit the chosen model, score every split, save the run.

Every fitting route returns a :class:`FitOutcome` and shares the readout (:class:`CohortPredictor`)
and the run directory:

* ``sparse`` (sa, ha, additive) and ``ridge`` (rfa): ``routes.py``;
* ``sgd`` (every kind): Lightning (``sgd.py``, imported only when it runs): main effects
  warm-started from the additive fit, AdamW with scaled step sizes, a ridge penalty on the
  invariant, early stopping on validation loss, checkpoints and resume (also under DDP);
* ``auto``: candidates chosen by validation loss (``choose.py``).

The path runs one way: fit -> choose -> sparse_link -> routes (and sgd -> routes).

Test samples are used only to report metrics. Every run also fits the additive baseline (sparse
main effects only) on the same split so that its metrics sit beside the model's.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from pathlib import Path

import polars as pl
import torch

from genoattn.config import FitConfig
from genoattn.contract import Dataset
from genoattn.system.choose import fit_auto, summary
from genoattn.system.outcome import FitOutcome
from genoattn.system.resources import Resources
from genoattn.system.routes import FitInputs, additive_fit, fit_ridge, fit_sparse, score
from genoattn.system.rundir import (
    Metrics,
    RunInfo,
    check_resume,
    fingerprint,
    finish_run,
    launched_rank,
    partial_dir,
    prepare_run_dir,
    save_run,
    write_run_info,
)
from genoattn.system.split import make_split, split_by_iid, split_labels

Log = Callable[[str], None]


def _absolute_inputs(cfg: FitConfig) -> FitConfig:
    """A copy of ``cfg`` whose input paths are absolute, so the run works from any directory."""
    out = copy.deepcopy(cfg)
    for name in ("vcf", "bfile", "fasta", "pheno", "covar", "cache_dir"):
        value = getattr(out.data, name)
        if value:
            setattr(out.data, name, str(Path(value).absolute()))
    return out


class FitResult(dict):
    """What :func:`fit` returns: the run directory, its :class:`Metrics` and :class:`RunInfo`.

    As a dict it is metrics.json's content (``result["test"]["r2"]``, ``json.dumps(result)``);
    the typed records are its attributes.
    """

    def __init__(self, run_dir: Path, metrics: Metrics, info: RunInfo):
        super().__init__(metrics.to_json())
        self.run_dir, self.metrics, self.info = run_dir, metrics, info

    def summary(self) -> str:
        """One line: the model, its route and time, each split's scores, the baseline."""

        def fmt(m: dict) -> str:
            keys = [k for k in ("r2", "pearson", "auc") if k in m]
            return ", ".join(f"{k} {m[k]:.3f}" for k in keys)

        m = self.metrics
        parts = [f"{m.model} ({m.fit}, {m.seconds:.1f} s)"]
        parts += [f"{s}: {fmt(m.splits[s])}" for s in ("train", "val", "test") if s in m.splits]
        if m.additive and "test" in m.additive:
            parts.append(f"additive baseline test: {fmt(m.additive['test'])}")
        if m.auto:
            parts.append(summary(m.to_json()))
        return " | ".join(parts)


def _route(prep: FitInputs, cfg: FitConfig, work: Path, resume: bool, warm, log: Log) -> FitOutcome:
    """Run the route ``cfg.model`` names (auto may rewrite ``cfg.model`` to its winner)."""
    m = cfg.model
    if m.fit == "auto" or m.global_epistasis and m.fit == "sparse":
        return fit_auto(prep, cfg, work, resume, log)
    if m.fit == "sparse":
        return fit_sparse(prep, m, cfg.train.accelerator, log)
    if m.fit == "ridge":
        return fit_ridge(prep, cfg, log)
    from genoattn.system.sgd import fit_sgd  # Lightning: imported only by the route that uses it

    return fit_sgd(prep, cfg, work, resume, log, warm)


def _split(ds: Dataset, cfg: FitConfig, work: Path, resume: bool, rank0: bool, log: Log):
    """The split: the saved one (mapped by IID) when resuming or in a DDP worker, else new."""
    saved = work / "split.tsv"
    n = ds.cohort.n_samples
    if saved.exists() and (resume or not rank0):
        frame = pl.read_csv(saved, separator="\t", schema_overrides={"IID": pl.String})
        split = split_by_iid(
            frame["IID"].to_numpy(), frame["split"].to_numpy(), ds.cohort.samples, str(saved)
        )
    else:
        split = make_split(n, cfg.train)
        if rank0:
            pl.DataFrame(
                {"IID": [str(s) for s in ds.cohort.samples], "split": list(split_labels(n, split))}
            ).write_csv(saved, separator="\t")
    if rank0:
        log(
            f"split: {len(split['train'])} train, {len(split['val'])} validation, "
            f"{len(split['test'])} test samples (seed {cfg.train.seed})"
        )
    return split


def fit(
    ds: Dataset,
    cfg: FitConfig,
    run_dir: str | Path,
    *,
    overwrite: bool = False,
    resume: bool = False,
    baseline: bool = True,
    log: Log = print,
    resources: Resources | None = None,
) -> FitResult | None:
    """Fit ``cfg.model`` on ``ds`` and write the run directory; returns its metrics and record.

    Under DDP with Lightning's ``ddp`` strategy every rank runs this function (the command line
    is re-run per rank): only global rank 0 prepares, writes and publishes the run directory and
    scores the model; the other ranks train and return None. With ``ddp_spawn`` only the
    training runs in other processes.
    """
    res = resources or Resources()
    run_dir = Path(run_dir)
    rank0 = launched_rank() == 0
    with res.stage("prepare"):
        work = prepare_run_dir(run_dir, overwrite, resume) if rank0 else partial_dir(run_dir)
        if rank0:
            check_resume(work, fingerprint(ds, cfg), resume)
        torch.manual_seed(cfg.train.seed)
        split = _split(ds, cfg, work, resume, rank0, log)
        prep = FitInputs(ds, split)
    m = cfg.model
    add_pred = warm = None
    want_additive = baseline and not (m.kind == "additive" and m.fit == "sparse")
    with res.stage("baseline"):
        if want_additive and rank0:
            add_pred = additive_fit(prep, cfg)
        if m.fit == "sgd" and m.main_effects:
            warm = additive_fit(prep, cfg, refit_with_validation=False)
    t0 = time.perf_counter()
    with res.stage("fit"):
        out = _route(prep, cfg, work, resume, warm, log)
    if not rank0:
        return None
    seconds = time.perf_counter() - t0
    for name, (wall, cpu) in out.seconds.items():  # the sparse route's stages, inside "fit"
        res.add(f"fit.{name}", wall, cpu)
    with res.stage("score"):
        add_scores = score(add_pred, prep) if want_additive else None
        auto = out.auto.to_json() if out.auto else None
        result = Metrics(cfg.model.kind, cfg.model.fit, seconds, score(out.predictor, prep),
                         add_scores, auto)  # fmt: skip
    n = ds.cohort.n_samples
    info = RunInfo.from_json(out.run_fields())
    info.trait, info.binary, info.kind = ds.trait, bool(ds.binary), ds.cohort.kind
    info.covariates = list(ds.covariate_names)
    info.n_samples, info.n_loci = int(n), int(ds.cohort.n_loci)
    with res.stage("save"):
        labels = split_labels(n, split)
        args = (work, _absolute_inputs(cfg), info, out.predictor, ds.cohort.loci)
        save_run(*args, ds.cohort.samples, labels, result, out.history, out.selection)
    # run.json states what the run cost: every stage up to here (export adds nothing to it)
    info.resources = res.report()
    write_run_info(work, info)
    finish_run(work, run_dir)
    return FitResult(run_dir, result, info)

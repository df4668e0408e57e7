"""``fit: auto`` — fit a small set of candidate models and keep the lowest validation loss.

The candidates (names as recorded in ``metrics.json``):

* ``additive``: main effects only, sparse route (the group-lasso path of main effects);
* ``sparse_sa``: SA_lin by the sparse route (main effects, screened pairs, relaxed refit);
* ``sparse_sa_link``: the same with a monotone global-epistasis link (``sparse_link.py``);
* ``sgd_sa_ge``: factorised SA_lin (``model.rank``) with the global-epistasis output, by sgd;
* ``sgd_ha_ge``: HyperAttention (``model.order``, ``model.rank``) with the same output, by sgd.

Which candidates run (the rule; ``model.candidates`` overrides it):

* genotype cohorts: ``sparse_sa`` alone. Its path starts from main effects alone and keeps pairs
  only when they lower the validation loss, so it contains ``additive``; the sgd candidates are
  skipped, since with l^2 locus pairs and n << l^2 samples their dense factors do not beat the
  screened sparse fit (and they would make the bundled example slow);
* sequence cohorts: all five (the link candidates only for a quantitative trait: a case/control
  trait already has the logistic link and gets ``additive``, ``sparse_sa`` and the sgd ones with
  their monotone unit on the logit).

Memory: on sequence cohorts far from any reference (the tile route of the operators) the pair
design of the sparse candidates holds n x (l d + K d^2) float32 values (d = residues per column - 1
after pooling rare ones, K screened pairs); K is capped so that it stays within
``SPARSE_DESIGN_BUDGET`` bytes (logged), and a pair candidate with no room for one pair is skipped.
Libraries close to a reference (mutant libraries: the non-reference route) and genotype cohorts
(d = 2) keep their sparse settings.

Time on large libraries: the sparse candidates see every training sample (their products cost
O(non-reference entries) on a mutant library, ``genoattn/sparse/nonref.py``). An sgd epoch costs
O(n) forward/backward passes, so an sgd candidate is trained on a seeded subsample of at most
``SGD_ROWS`` training samples, for at most max(``SGD_SAMPLES``, ``SGD_EPOCHS`` x rows) sample
passes (``train.max_epochs`` and ``train.patience`` are capped accordingly, never raised);
validation samples stay whole, so every candidate is scored on the same samples. An sgd winner is
that fit (logged). Libraries up to 1e5 sequences get at most 8e5 sample passes; larger ones are
seen whole for 8 epochs (GB1, 478k training sequences: 8 epochs, 66 s for SA_lin on one thread,
validation loss 0.0267 against 0.0314 on a 1e5 subsample) instead of 200 epochs x 5e5.

Work that cannot change the choice is not done: when ``sparse_sa_link`` runs, ``sparse_sa`` is
fitted once on training samples and is the link's round 0 (the same fit); the link's rounds stop
at the first that does not lower the validation loss (``sparse_link.py``); and a sparse
candidate's refit on training + validation samples is done only for the winner (its record in
``metrics.json`` is then updated to the refit model's metrics; the other sparse candidates'
records are those of their training-sample fits).

Validation loss, on the standardised trait (0.5 mean squared error) or the logistic deviance
per sample: each candidate uses the validation samples once to pick its own settings (penalty and
relaxation; link round; early-stopping epoch) and is scored at that choice. The winner is the run's
model as its route leaves it: a sparse winner is refit on training + validation samples
(``sparse.refit_with_validation``), an sgd winner keeps its best-epoch weights. Test samples are
only scored: every candidate's metrics sit in ``metrics.json`` under ``auto``.
"""

from __future__ import annotations

import copy
import dataclasses
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from genoattn.config import AUTO_CANDIDATES, FitConfig, ModelConfig
from genoattn.contract import SEQUENCE
from genoattn.encode.qc import state_counts
from genoattn.errors import GenoattnError
from genoattn.system.outcome import AutoChoice, FitOutcome
from genoattn.system.routes import additive_fit, fit_sparse, score
from genoattn.system.sparse_link import LinkRounds, finish_link, fit_sparse_link, link_rounds

Log = Callable[[str], None]

SGD_ROWS = 1_000_000  # training samples an sgd candidate sees at most (seeded subsample)
SGD_SAMPLES = 800_000  # sample passes of an sgd candidate at most (epochs x rows) ...
SGD_EPOCHS = 8  # ... or this many epochs over a library larger than SGD_SAMPLES / SGD_EPOCHS
SPARSE_DESIGN_BUDGET = 2**29  # bytes of the sparse pair design on sequence cohorts (512 MiB)
CANDIDATES = AUTO_CANDIDATES
DEFAULT_LINK_UNITS = 4


def candidate_names(kind: str, binary: bool, given: tuple[str, ...] = ()) -> list[str]:
    """The candidates ``fit: auto`` runs for a cohort kind and trait type (the module's rule)."""
    if given:
        return list(given)
    if kind != SEQUENCE:
        return ["sparse_sa"]
    return [c for c in CANDIDATES if not (binary and c == "sparse_sa_link")]


def candidate_config(name: str, base: ModelConfig) -> ModelConfig:
    """The ModelConfig of candidate ``name``, keeping the sizes and sparse settings of ``base``."""
    k = base.global_epistasis or DEFAULT_LINK_UNITS
    kind, fit, ge = {
        "additive": ("additive", "sparse", 0),
        "sparse_sa": ("sa", "sparse", 0),
        "sparse_sa_link": ("sa", "sparse", k),
        "sgd_sa_ge": ("sa", "sgd", k),
        "sgd_ha_ge": ("ha", "sgd", k),
    }[name]
    return dataclasses.replace(
        copy.deepcopy(base), kind=kind, fit=fit, global_epistasis=ge, candidates=()
    )


def _loss(eta: torch.Tensor, y: torch.Tensor, binary: bool) -> float:
    if binary:
        return float((torch.nn.functional.softplus(eta) - y * eta).mean())
    return float(0.5 * ((y - eta) ** 2).mean())


def validation_loss(pred, prep, batch: int = 2048) -> float:
    """Loss of ``pred`` on the validation samples (standardised trait or logits)."""
    rows = prep.split["val"]
    etas = []
    pred = pred.cpu().eval()
    with torch.no_grad():
        for i in range(0, len(rows), batch):
            r = rows[i : i + batch]
            tok = torch.as_tensor(prep.ds.cohort.tokens(r), dtype=torch.int64)
            etas.append(pred(tok, torch.as_tensor(prep.cov[r])))
    eta = torch.cat(etas).double() if etas else torch.zeros(0, dtype=torch.float64)
    return _loss(eta, torch.as_tensor(prep.y[rows], dtype=torch.float64), prep.ds.binary)


def pair_cap(prep, mcfg: ModelConfig, budget: int = SPARSE_DESIGN_BUDGET) -> int:
    """Most screened pairs whose sparse design (training + validation rows) fits ``budget``."""
    counts = state_counts(prep.ds.cohort.states, prep.vocab.n_states, prep.split["train"])
    d = max(int((counts >= max(mcfg.sparse.min_state_count, 1)).sum(1).max()) - 1, 1)
    rows = len(prep.split["train"]) + len(prep.split["val"])
    room = budget / (4 * rows) - counts.shape[0] * d
    return max(int(room // (d * d)), 0)


def near_reference(prep) -> bool:
    """Whether the training states take the sparse (non-reference) route of the operators,
    whose pair groups cost O(non-reference entries) and no design: then no pair cap applies."""
    from genoattn.sparse.nonref import nonref_of

    st = torch.as_tensor(np.ascontiguousarray(prep.ds.cohort.states[prep.split["train"]]))
    return nonref_of(st, int(prep.vocab.n_states.max(initial=0)) + 1) is not None


def sgd_budget(prep, train, log: Log):
    """(prep, train config) of an sgd candidate: at most ``SGD_ROWS`` training samples (a seeded
    subsample; trait and covariates keep the standardisation of the whole training set) and
    at most ``SGD_SAMPLES`` sample passes."""
    rows = prep.split["train"]
    subsampled = len(rows) > SGD_ROWS
    if subsampled:
        rng = np.random.default_rng(train.seed)
        sub = copy.copy(prep)
        sub.split = {**prep.split, "train": np.sort(rng.choice(rows, SGD_ROWS, replace=False))}
        prep, rows = sub, sub.split["train"]
    passes = max(SGD_SAMPLES, SGD_EPOCHS * len(rows))
    epochs = max(1, min(train.max_epochs, passes // max(len(rows), 1)))
    if subsampled or epochs < train.max_epochs:
        log(f"auto: sgd candidates train on {len(rows)} samples for at most {epochs} epochs")
    patience = min(train.patience, max(3, epochs // 4))
    return prep, dataclasses.replace(train, max_epochs=epochs, patience=patience)


@dataclass
class Fitted:
    """One fitted candidate. ``deferred``: a sparse fit on training samples only, whose refit on
    training + validation samples is left until it wins (its fit is the link's round 0)."""

    out: FitOutcome
    val_loss: float
    mcfg: ModelConfig
    deferred: bool = False
    rounds: LinkRounds | None = None  # the link candidate's best round (its refit deferred)


def _path_loss(out: FitOutcome, prep) -> float:
    """A sparse candidate's validation loss as its path scored it (the relaxation stage
    re-solves the chosen model, so this is the path minimum; a refit on validation samples
    comes after it)."""
    sel = out.selection
    if sel is not None and "val_loss" in sel:
        return float(sel["val_loss"].min())
    return validation_loss(out.predictor, prep)


def _fit_one(
    name: str, prep, cfg: FitConfig, work: Path, log: Log, round0: Fitted | None, share: bool
) -> Fitted | None:
    """Fit candidate ``name``, or None when it does not fit the memory budget. ``share``: fit
    ``sparse_sa`` without its refit (deferred) so that ``sparse_sa_link`` starts from it
    (``round0``)."""
    mcfg = candidate_config(name, cfg.model)
    tiles = mcfg.fit == "sparse" and mcfg.kind != "additive" and prep.ds.cohort.kind == SEQUENCE
    if tiles and not near_reference(prep):
        cap = pair_cap(prep, mcfg)
        if cap < 1:
            log(f"auto: {name} skipped (its pair design exceeds {SPARSE_DESIGN_BUDGET >> 20} MiB)")
            return None
        if cap < mcfg.sparse.max_candidates:
            log(f"auto: {name} screens at most {cap} pairs (memory budget)")
            mcfg.sparse.max_candidates = cap
    if mcfg.fit == "sgd":
        sub, train = sgd_budget(prep, cfg.train, log)
        ccfg = dataclasses.replace(cfg, model=mcfg, train=train)
        # main effects warm-started from the additive fit on training samples (as fit() does)
        warm = additive_fit(sub, ccfg, refit_with_validation=False) if mcfg.main_effects else None
        from genoattn.system.sgd import fit_sgd  # Lightning: only when an sgd candidate runs

        out = fit_sgd(sub, ccfg, work / "candidates" / name, False, log, warm)
        return Fitted(out, validation_loss(out.predictor, prep), mcfg)
    if mcfg.global_epistasis:
        first = None if round0 is None else round0.out
        best = link_rounds(prep, mcfg, cfg.train.accelerator, log, first=first)
        out = finish_link(prep, mcfg, cfg.train.accelerator, log, best, refit=False)
        return Fitted(out, best.val_loss, mcfg, mcfg.sparse.refit_with_validation, best)
    deferred = share and name == "sparse_sa" and mcfg.sparse.refit_with_validation
    inner = copy.deepcopy(mcfg)
    inner.sparse.refit_with_validation = mcfg.sparse.refit_with_validation and not deferred
    out = fit_sparse(prep, inner, cfg.train.accelerator, log)
    return Fitted(out, _path_loss(out, prep), mcfg, deferred)


def fit_auto(prep, cfg: FitConfig, work: Path, resume: bool, log: Log) -> FitOutcome:
    """The ``auto`` route: the :class:`FitOutcome` of the winning candidate.

    ``cfg.model`` is updated in place to the winner's config (kind, fit, global_epistasis), so
    the run directory records the model it holds; ``outcome.auto`` holds every candidate's
    validation loss, time and split metrics, and the choice, for ``metrics.json``.
    """
    m = cfg.model
    if m.fit == "sparse" and m.global_epistasis:  # the sparse route with a link, chosen by hand
        return fit_sparse_link(prep, m, cfg.train.accelerator, log)
    names = candidate_names(prep.ds.cohort.kind, prep.ds.binary, m.candidates)
    log(f"auto: candidates {', '.join(names)} (chosen by validation loss)")
    record: dict[str, dict] = {}
    best: tuple[str, Fitted] | None = None
    share, round0 = "sparse_sa_link" in names, None
    for name in names:
        t0 = time.perf_counter()
        fitted = _fit_one(name, prep, cfg, work, log, round0, share)
        if fitted is None:
            record[name] = {"skipped": "memory budget"}
            continue
        round0 = fitted if fitted.deferred else round0
        vl, seconds = fitted.val_loss, time.perf_counter() - t0
        record[name] = {"val_loss": vl, "seconds": seconds, **score(fitted.out.predictor, prep)}
        log(f"auto: {name} validation loss {vl:.4f} ({seconds:.1f} s)")
        if best is None or vl < best[1].val_loss:
            best = (name, fitted)
    if best is None:
        raise GenoattnError(f"fit auto: every candidate ({', '.join(names)}) was skipped")
    shutil.rmtree(work / "candidates", ignore_errors=True)
    name, fitted = best
    out, vl, winner = fitted.out, fitted.val_loss, fitted.mcfg
    if fitted.deferred:  # the winner's refit on training + validation samples
        log(f"auto: refit {name} on training + validation samples")
        acc = cfg.train.accelerator
        if fitted.rounds is not None:
            out = finish_link(prep, winner, acc, log, fitted.rounds, refit=True)
        else:  # only the refit: the path's choices are those of the candidate's fit
            out = fit_sparse(prep, winner, acc, log, stages=fitted.out.stages)
            out.seconds = {**fitted.out.seconds, **out.seconds}
        record[name].update(score(out.predictor, prep))
    for f in dataclasses.fields(ModelConfig):
        setattr(m, f.name, getattr(winner, f.name))
    m.candidates = tuple(names)
    log(f"auto: chose {name} (validation loss {vl:.4f})")
    out.auto = AutoChoice(name, record)
    return out


def summary(result: dict) -> str:
    """One line: every candidate's validation loss, the chosen one marked."""
    auto = result.get("auto")
    if not auto:
        return ""
    parts = [
        f"{n} {c['val_loss']:.4f}" + (" *" if n == auto["chosen"] else "")
        for n, c in sorted(
            ((n, c) for n, c in auto["candidates"].items() if "val_loss" in c),
            key=lambda kv: kv[1]["val_loss"],
        )
    ]
    return "auto (validation loss): " + ", ".join(parts)

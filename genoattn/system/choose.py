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

Memory: on sequence cohorts the pair design of the sparse candidates holds n x (l d + K d^2)
float32 values (d = residues per column - 1 after pooling rare ones, K screened pairs); K is capped
so that it stays within ``SPARSE_DESIGN_BUDGET`` bytes (logged), and a pair candidate with no room
for one pair is skipped. Genotype cohorts (d = 2) keep their sparse settings.

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
from pathlib import Path

import numpy as np
import torch

from genoattn.config import AUTO_CANDIDATES, FitConfig, ModelConfig
from genoattn.contract import SEQUENCE
from genoattn.errors import GenoattnError
from genoattn.system.outcome import AutoChoice, FitOutcome
from genoattn.system.routes import additive_fit, fit_sparse, score
from genoattn.system.sparse_link import fit_sparse_link

Log = Callable[[str], None]

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
    st = np.asarray(prep.ds.cohort.states[prep.split["train"]])
    kmax = int(prep.vocab.n_states.max()) if st.shape[1] else 1
    counts = np.stack([(st == k).sum(0) for k in range(kmax)], axis=1)  # (l, kmax)
    d = max(int((counts >= max(mcfg.sparse.min_state_count, 1)).sum(1).max()) - 1, 1)
    rows = len(prep.split["train"]) + len(prep.split["val"])
    room = budget / (4 * rows) - st.shape[1] * d
    return max(int(room // (d * d)), 0)


def _fit_one(name: str, prep, cfg: FitConfig, work: Path, log: Log):
    """Fit candidate ``name``; returns (its FitOutcome, its validation loss, its config), or
    None when the candidate does not fit the memory budget."""
    mcfg = candidate_config(name, cfg.model)
    if mcfg.fit == "sparse" and mcfg.kind != "additive" and prep.ds.cohort.kind == SEQUENCE:
        cap = pair_cap(prep, mcfg)
        if cap < 1:
            log(f"auto: {name} skipped (its pair design exceeds {SPARSE_DESIGN_BUDGET >> 20} MiB)")
            return None
        if cap < mcfg.sparse.max_candidates:
            log(f"auto: {name} screens at most {cap} pairs (memory budget)")
            mcfg.sparse.max_candidates = cap
    if mcfg.fit == "sgd":
        ccfg = dataclasses.replace(cfg, model=mcfg)
        # main effects warm-started from the additive fit on training samples (as fit() does)
        warm = additive_fit(prep, ccfg, refit_with_validation=False) if mcfg.main_effects else None
        from genoattn.system.sgd import fit_sgd  # Lightning: only when an sgd candidate runs

        out = fit_sgd(prep, ccfg, work / "candidates" / name, False, log, warm)
        return out, validation_loss(out.predictor, prep), mcfg
    if mcfg.global_epistasis:
        out = fit_sparse_link(prep, mcfg, cfg.train.accelerator, log)
        return out, float(out.link_val_loss), mcfg
    out = fit_sparse(prep, mcfg, cfg.train.accelerator, log)
    selection = out.selection
    if mcfg.sparse.refit_with_validation and selection is not None and "val_loss" in selection:
        # refit on validation samples: score the selected model as the path scored it (before
        # the refit); the relaxation stage re-solves the chosen model, so this is the path minimum
        return out, float(selection["val_loss"].min()), mcfg
    return out, validation_loss(out.predictor, prep), mcfg


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
    best = None
    for name in names:
        t0 = time.perf_counter()
        fitted = _fit_one(name, prep, cfg, work, log)
        if fitted is None:
            record[name] = {"skipped": "memory budget"}
            continue
        out, vl, mcfg = fitted
        seconds = time.perf_counter() - t0
        record[name] = {"val_loss": vl, "seconds": seconds, **score(out.predictor, prep)}
        log(f"auto: {name} validation loss {vl:.4f} ({seconds:.1f} s)")
        if best is None or vl < best[1]:
            best = (name, vl, out, mcfg)
    if best is None:
        raise GenoattnError(f"fit auto: every candidate ({', '.join(names)}) was skipped")
    shutil.rmtree(work / "candidates", ignore_errors=True)
    name, vl, out, winner = best
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

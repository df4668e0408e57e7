"""The fit routes that need no Lightning, and what every route shares.

* :class:`FitInputs`: the standardised trait and covariates of a split dataset, with its vocab;
* ``sparse`` (sa, ha, additive): the hierarchical group-lasso fit of the SA_lin invariant
  (``genoattn/sparse/``), turned into a :class:`BlockSALin`;
* ``ridge`` (rfa): the values of random-feature attention in closed form, ridge strength chosen
  on validation samples;
* scoring of a fitted predictor on every split, and the additive baseline.

The ``sgd`` route (Lightning) is in ``sgd.py``, the global-epistasis link in ``sparse_link.py``
and ``fit: auto`` in ``choose.py``; each returns a :class:`FitOutcome`.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import numpy as np
import polars as pl
import torch

from genoattn.config import FitConfig, ModelConfig
from genoattn.contract import Dataset, token_offsets
from genoattn.data.standardise import standardisation
from genoattn.models.block_sa import BlockSALin
from genoattn.sparse.contrasts import fit_contrasts
from genoattn.sparse.fit import SparseFit, StageClock, fit_sparse_sa
from genoattn.sparse.polish import MAX_ENTRIES, polish_dosages
from genoattn.sparse.records import SparseStages
from genoattn.system.build import Vocab, build_genetic_model, vocab_of
from genoattn.system.metrics import metrics
from genoattn.system.outcome import BLOCK, FitOutcome
from genoattn.system.predictor import CohortPredictor, predict_batched

Log = Callable[[str], None]


class FitInputs:
    """Standardised trait and covariates of an aligned dataset, with its split and tokens."""

    def __init__(self, ds: Dataset, split: dict[str, np.ndarray]):
        self.ds, self.split = ds, split
        tr = split["train"]
        y = ds.y.astype(np.float64)
        if ds.binary:
            self.y_mean, self.y_std = 0.0, 1.0
        else:
            self.y_mean, self.y_std = float(y[tr].mean()), float(y[tr].std()) or 1.0
        self.y = ((y - self.y_mean) / self.y_std).astype(np.float32)  # (n,)
        cov = ds.covariates.astype(np.float64)
        scaling = standardisation(cov[tr])  # training samples only
        self.cov_mean, self.cov_std = scaling.mean, scaling.std
        self.cov = scaling.apply(cov).astype(np.float32)  # (n, c)
        self.vocab: Vocab = vocab_of(ds.cohort.loci)

    def predictor(
        self, genetic: torch.nn.Module, global_epistasis: int = 0, n_main: int = 0
    ) -> CohortPredictor:
        return CohortPredictor(
            genetic,
            self.cov.shape[1],
            self.ds.binary,
            self.y_mean,
            self.y_std,
            torch.as_tensor(self.cov_mean, dtype=torch.float32),
            torch.as_tensor(self.cov_std, dtype=torch.float32),
            global_epistasis,
            n_main,
        )


def device_of(accelerator: str) -> torch.device:
    if accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


def predict_rows(
    pred: CohortPredictor, ds: Dataset, rows: np.ndarray, batch: int | None = None
) -> np.ndarray:
    """Predictions (trait units or probabilities) of the given sample rows."""
    cov = torch.as_tensor(ds.covariates[rows], dtype=torch.float32)
    return predict_batched(pred, lambda sl: ds.cohort.tokens(rows[sl]), cov, batch)


def score(pred: CohortPredictor, prep: FitInputs) -> dict[str, dict]:
    return {
        name: metrics(prep.ds.y[rows], predict_rows(pred, prep.ds, rows), prep.ds.binary)
        for name, rows in prep.split.items()
        if len(rows)
    }


# --- sparse route ---------------------------------------------------------------------------


def block_model(fit: SparseFit, contrasts_table: np.ndarray, vocab: Vocab) -> BlockSALin:
    """Turn the contrast-basis solution into the SA_lin invariant A (diagonal + pair blocks)."""
    tl, ts = vocab.token_locus, vocab.token_state
    diag = np.zeros(vocab.size, dtype=np.float64)
    real = tl >= 0
    diag[real] = (contrasts_table[real] * fit.main_beta[tl[real]]).sum(1)
    m = vocab.max_states
    offsets = token_offsets(vocab.n_states)

    def z(a):  # (k_a, d) contrast vectors of locus a's states
        return contrasts_table[offsets[a] + 1 : offsets[a] + 1 + vocab.n_states[a]]

    tables = np.zeros((len(fit.pairs), m, m), dtype=np.float64)
    for p, ((a, b), beta) in enumerate(zip(fit.pairs, fit.pair_beta, strict=True)):
        za, zb = z(a), z(b)
        tables[p, : len(za), : len(zb)] = za @ beta @ zb.T
    t3 = np.zeros((len(fit.triples), m, m, m), dtype=np.float64)
    for p, ((a, b, c), beta) in enumerate(zip(fit.triples, fit.triple_beta, strict=True)):
        za, zb, zc = z(a), z(b), z(c)
        t3[p, : len(za), : len(zb), : len(zc)] = np.einsum("gu,hv,kw,uvw->ghk", za, zb, zc, beta)
    f32 = torch.float32
    return BlockSALin(
        torch.as_tensor(diag, dtype=f32),
        torch.as_tensor(ts),
        torch.as_tensor(np.asarray(fit.pairs).reshape(-1, 2)),
        torch.as_tensor(tables, dtype=f32),
        torch.as_tensor(np.asarray(fit.triples).reshape(-1, 3)),
        torch.as_tensor(t3, dtype=f32),
    )


def fit_sparse(
    prep: FitInputs,
    mcfg: ModelConfig,
    accelerator: str,
    log: Log,
    stages: SparseStages | None = None,
) -> FitOutcome:
    """The hierarchical group-lasso route (its genetic model is a :class:`BlockSALin`).

    ``stages``: the ``FitOutcome.stages`` of an earlier fit of the same inputs without its
    refit: only that refit is done (see :func:`genoattn.sparse.fit.fit_sparse_sa`)."""
    ds, split = prep.ds, prep.split
    dev = device_of(accelerator)
    tr, va = split["train"], split["val"]
    # (n, l) int8 rows of each split: the genotypes travel to the device in compact form
    st_tr = torch.as_tensor(np.ascontiguousarray(ds.cohort.states[tr]))
    st_va = torch.as_tensor(np.ascontiguousarray(ds.cohort.states[va]))
    contrasts = fit_contrasts(st_tr.numpy(), prep.vocab.n_states, mcfg.sparse.min_state_count)

    def t(a):
        return torch.as_tensor(a).to(dev)

    scfg = mcfg.sparse_settings()
    loss = "logistic" if ds.binary else "mse"
    sol = fit_sparse_sa(
        st_tr.to(dev),
        t(prep.y[tr]),
        t(prep.cov[tr]),
        st_va.to(dev),
        t(prep.y[va]),
        t(prep.cov[va]),
        contrasts,
        loss,
        scfg,
        log,
        stages,
    )
    genetic = block_model(sol, contrasts.table.astype(np.float64), prep.vocab)
    pred = prep.predictor(genetic)
    with torch.no_grad():
        pred.cov_beta.copy_(torch.as_tensor(sol.cov_beta))
        pred.bias.fill_(sol.intercept)
    clock = StageClock()
    clock.run("polish", additive_polish, pred, prep, mcfg, log)
    selection = pl.DataFrame(sol.trace)
    history = selection.with_row_index("step").select("step", pl.col("stage"), pl.col("val_loss"))
    out = FitOutcome(pred, history, selection, BLOCK, len(sol.pairs), len(sol.triples))
    out.stages, out.seconds = sol.stages, {**sol.seconds, **clock.seconds}
    return out


def additive_polish(pred: CohortPredictor, prep: FitInputs, mcfg: ModelConfig, log: Log) -> None:
    """The additive polish (``sparse/polish.py``) of a final sparse model of a quantitative
    genotype trait: mr.ash on the ALT dosages of the biallelic loci against the model's residual
    on the training + validation samples (every penalty is chosen by then); b_j (g - centre_j)
    goes into the diagonal (token values) of locus j, the mean residual into the intercept.
    Not run for case/control traits, a global-epistasis link, fits that stay on the training
    samples (candidates, warm starts) or ``sparse.polish: false``."""
    ds, sp = prep.ds, mcfg.sparse
    if ds.binary or mcfg.global_epistasis or not (sp.refit_with_validation and sp.polish):
        return
    loci = np.flatnonzero(ds.cohort.is_biallelic())
    rows = np.sort(np.concatenate([prep.split["train"], prep.split["val"]]))
    if len(loci) == 0 or len(rows) * len(loci) > MAX_ENTRIES:
        if len(loci):
            log(f"additive polish skipped: {len(rows)} x {len(loci)} dosages > {MAX_ENTRIES:.0e}")
        return
    fitted = predict_rows(pred, ds, rows)  # trait units
    resid = prep.y[rows].astype(np.float64) - (fitted - prep.y_mean) / prep.y_std
    pol = polish_dosages(np.asarray(ds.cohort.states)[rows], loci, resid)
    first = token_offsets(prep.vocab.n_states)[loci] + 1  # token of dosage 0
    with torch.no_grad():
        diag = pred.genetic.diag
        for g in range(3):
            value = torch.as_tensor(pol.effect * (g - pol.centre), dtype=diag.dtype)
            diag[torch.as_tensor(first + g)] += value.to(diag.device)
        pred.bias += pol.offset
    log(f"additive polish: {len(loci)} loci, prior weight of zero effects {pol.fit.pi[0]:.3f}, "
        f"{pol.fit.n_iter} sweeps")  # fmt: skip


# --- ridge route (random-feature attention) ------------------------------------------------


def fit_ridge(prep: FitInputs, cfg: FitConfig, log: Log) -> FitOutcome:
    genetic = build_genetic_model(cfg.model, prep.vocab, cfg.train.seed)
    ds, split = prep.ds, prep.split

    def feats(rows):
        with torch.no_grad():
            return torch.cat(
                [
                    genetic.features(
                        torch.as_tensor(ds.cohort.tokens(rows[i : i + 512]), dtype=torch.int64)
                    )
                    for i in range(0, len(rows), 512)
                ]
            )

    f_tr, f_va = feats(split["train"]), feats(split["val"])
    # covariates and the intercept are projected out first (values have no intercept)
    y_tr = torch.as_tensor(prep.y[split["train"]], dtype=torch.float64)
    c_tr = torch.as_tensor(
        np.c_[np.ones(len(split["train"])), prep.cov[split["train"]]], dtype=torch.float64
    )
    coef = torch.linalg.lstsq(c_tr, y_tr[:, None]).solution[:, 0]
    r_tr = y_tr - c_tr @ coef
    c_va = torch.as_tensor(
        np.c_[np.ones(len(split["val"])), prep.cov[split["val"]]], dtype=torch.float64
    )
    y_va = torch.as_tensor(prep.y[split["val"]], dtype=torch.float64)
    scale = float((f_tr.double() ** 2).sum(1).mean())
    history, best = [], (np.inf, None, None)
    for lam in np.geomspace(1e2, 1e-5, 15) * scale:
        v = genetic.fit_ridge(f_tr, r_tr, float(lam)).flatten().double()
        vl = float(((y_va - c_va @ coef - f_va.double() @ v) ** 2).mean() / 2)
        history.append({"step": len(history), "lam": float(lam), "val_loss": vl})
        if vl < best[0]:
            best = (vl, float(lam), v.clone())
    with torch.no_grad():
        genetic.values.copy_(best[2].view_as(genetic.values).float())
    log(f"ridge: lambda {best[1]:.4g}, validation loss {best[0]:.4f}")
    pred = prep.predictor(genetic)
    with torch.no_grad():
        pred.bias.fill_(float(coef[0]))
        pred.cov_beta.copy_(coef[1:].float())
    return FitOutcome(pred, pl.DataFrame(history))


def additive_fit(
    prep: FitInputs, cfg: FitConfig, refit_with_validation: bool = True
) -> CohortPredictor:
    """The additive (sparse main effects) fit on the same split.

    The baseline is refit on training + validation samples like every sparse fit; the warm
    start of an sgd fit is not (``refit_with_validation=False``), or its early stopping would
    watch a validation loss of samples the starting point was fit on.
    """
    add_cfg = copy.deepcopy(cfg.model)
    add_cfg.kind, add_cfg.fit = "additive", "sparse"
    add_cfg.sparse.refit_with_validation = refit_with_validation
    return fit_sparse(prep, add_cfg, cfg.train.accelerator, lambda s: None).predictor

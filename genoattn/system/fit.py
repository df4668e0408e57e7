"""``genoattn fit``: split, standardise, fit the chosen model, score every split, save the run.

Three fitting routes share the readout (:class:`CohortPredictor`) and the run directory:

* ``sparse`` (sa, additive): the hierarchical group-lasso fit of the SA_lin invariant
  (``sparse_fit.py``), turned into a :class:`BlockSALin`;
* ``sgd`` (every kind): Lightning, AdamW with weight decay, early stopping on validation loss,
  checkpoints and resume;
* ``ridge`` (rfa): the values of random-feature attention in closed form, ridge strength chosen on
  validation samples.

Test samples are used only to report metrics. Every run also fits the additive baseline (sparse
main effects only) on the same split so that its metrics sit beside the model's.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from pathlib import Path

import lightning as L
import numpy as np
import polars as pl
import torch

from genoattn.config import FitConfig, ModelConfig
from genoattn.contract import Dataset, token_offsets
from genoattn.models.block_sa import BlockSALin
from genoattn.system.build import Vocab, build_genetic_model, vocab_of
from genoattn.system.choose import fit_auto
from genoattn.system.contrasts import fit_contrasts
from genoattn.system.lit import CohortSystem, TokenDataModule
from genoattn.system.metrics import metrics
from genoattn.system.predictor import CohortPredictor
from genoattn.system.rundir import finish_run, prepare_run_dir, save_run
from genoattn.system.sparse_fit import SparseFit, fit_sparse_sa
from genoattn.system.split import make_split, split_from_labels, split_labels

Log = Callable[[str], None]


class Prepared:
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
        self.cov_mean = cov[tr].mean(0) if cov.shape[1] else np.zeros(0)
        sd = cov[tr].std(0) if cov.shape[1] else np.zeros(0)
        self.cov_std = np.where(sd > 0, sd, 1.0)
        self.cov = ((cov - self.cov_mean) / self.cov_std).astype(np.float32)  # (n, c)
        self.vocab: Vocab = vocab_of(ds.cohort.loci)

    def predictor(self, genetic: torch.nn.Module, global_epistasis: int = 0) -> CohortPredictor:
        return CohortPredictor(
            genetic,
            self.cov.shape[1],
            self.ds.binary,
            self.y_mean,
            self.y_std,
            torch.as_tensor(self.cov_mean, dtype=torch.float32),
            torch.as_tensor(self.cov_std, dtype=torch.float32),
            global_epistasis,
        )


def device_of(accelerator: str) -> torch.device:
    if accelerator in ("auto", "gpu", "cuda") and torch.cuda.is_available():
        return torch.device("cuda")
    return torch.device("cpu")


def predict_rows(
    pred: CohortPredictor, ds: Dataset, rows: np.ndarray, batch: int = 512
) -> np.ndarray:
    """Predictions (trait units or probabilities) of the given sample rows."""
    out = []
    cov = torch.as_tensor(ds.covariates, dtype=torch.float32)
    pred = pred.cpu().eval()
    for i in range(0, len(rows), batch):
        r = rows[i : i + batch]
        tok = torch.as_tensor(ds.cohort.tokens(r), dtype=torch.int64)
        out.append(pred.predict(tok, cov[r]).numpy())
    return np.concatenate(out) if out else np.zeros(0)


def score(pred: CohortPredictor, prep: Prepared) -> dict[str, dict]:
    return {
        name: metrics(prep.ds.y[rows], predict_rows(pred, prep.ds, rows), prep.ds.binary)
        for name, rows in prep.split.items()
        if len(rows)
    }


# --- sparse route -------------------------------------------------------------------------


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


def fit_sparse(prep: Prepared, mcfg: ModelConfig, accelerator: str, log: Log):
    """The hierarchical group-lasso route; returns (predictor, history, selection, info)."""
    ds, split = prep.ds, prep.split
    dev = device_of(accelerator)
    tr, va = split["train"], split["val"]
    contrasts = fit_contrasts(
        np.asarray(ds.cohort.states[tr]), prep.vocab.n_states, mcfg.sparse.min_state_count
    )
    table = torch.as_tensor(contrasts.table)

    def z(rows):  # (n, l, d) contrast vectors of the rows
        return table[torch.as_tensor(ds.cohort.tokens(rows), dtype=torch.int64)].to(dev)

    def t(a):
        return torch.as_tensor(a).to(dev)

    scfg = copy.deepcopy(mcfg.sparse)
    if mcfg.kind == "additive":
        scfg.max_candidates = 0
    if mcfg.kind == "ha" and scfg.max_triples == 0:
        scfg.max_triples = 200
    loss = "logistic" if ds.binary else "mse"
    sol = fit_sparse_sa(
        z(tr),
        t(prep.y[tr]),
        t(prep.cov[tr]),
        z(va),
        t(prep.y[va]),
        t(prep.cov[va]),
        contrasts,
        loss,
        scfg,
        log,
    )
    genetic = block_model(sol, contrasts.table.astype(np.float64), prep.vocab)
    pred = prep.predictor(genetic)
    with torch.no_grad():
        pred.cov_beta.copy_(torch.as_tensor(sol.cov_beta))
        pred.bias.fill_(sol.intercept)
    selection = pl.DataFrame(sol.trace)
    history = selection.with_row_index("step").select("step", pl.col("stage"), pl.col("val_loss"))
    info = {"genetic": "block", "n_pairs": int(len(sol.pairs)), "n_triples": int(len(sol.triples))}
    return pred, history, selection, info


# --- sgd route (Lightning) ----------------------------------------------------------------


def fit_sgd(prep: Prepared, cfg: FitConfig, work: Path, resume: bool, log: Log):
    L.seed_everything(cfg.train.seed, workers=True, verbose=False)
    genetic = build_genetic_model(cfg.model, prep.vocab, cfg.train.seed)
    pred = prep.predictor(genetic, cfg.model.global_epistasis)
    system = CohortSystem(pred, cfg.train.lr, cfg.train.weight_decay)
    dm = TokenDataModule(
        prep.ds.cohort.states,
        prep.ds.cohort.offsets,
        prep.y,
        prep.cov,
        prep.split,
        cfg.train.batch_size,
        cfg.train.seed,
    )
    ckpt_dir = work / "checkpoints"
    best = L.pytorch.callbacks.ModelCheckpoint(
        dirpath=ckpt_dir, monitor="val_loss", save_last=True, filename="best"
    )
    stop = L.pytorch.callbacks.EarlyStopping(monitor="val_loss", patience=cfg.train.patience)
    trainer = L.Trainer(
        max_epochs=cfg.train.max_epochs,
        accelerator=cfg.train.accelerator,
        devices=cfg.train.devices,
        strategy=cfg.train.strategy,
        precision=cfg.train.precision,
        callbacks=[best, stop],
        logger=False,
        enable_progress_bar=cfg.train.progress,
        enable_model_summary=False,
        deterministic=True,
        default_root_dir=str(work),
    )
    last = ckpt_dir / "last.ckpt"
    ckpt_path = str(last) if resume and last.exists() else None
    if ckpt_path:
        log(f"resuming from {last}")
    trainer.fit(system, datamodule=dm, ckpt_path=ckpt_path, weights_only=True)
    if best.best_model_path:
        state = torch.load(best.best_model_path, map_location="cpu", weights_only=True)
        system.load_state_dict(state["state_dict"])
    history = pl.DataFrame(
        system.history or [{"epoch": 0, "train_loss": float("nan"), "val_loss": float("nan")}]
    )
    return system.predictor, history, None, {"genetic": "module"}


# --- ridge route (random-feature attention) ------------------------------------------------


def fit_ridge(prep: Prepared, cfg: FitConfig, log: Log):
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
    return pred, pl.DataFrame(history), None, {"genetic": "module"}


def _absolute_inputs(cfg: FitConfig) -> FitConfig:
    """A copy of ``cfg`` whose input paths are absolute, so the run works from any directory."""
    out = copy.deepcopy(cfg)
    for name in ("vcf", "bfile", "fasta", "pheno", "covar", "cache_dir"):
        value = getattr(out.data, name)
        if value:
            setattr(out.data, name, str(Path(value).absolute()))
    return out


# --- the command --------------------------------------------------------------------------


def fit(
    ds: Dataset,
    cfg: FitConfig,
    run_dir: str | Path,
    *,
    overwrite: bool = False,
    resume: bool = False,
    baseline: bool = True,
    log: Log = print,
) -> dict:
    """Fit ``cfg.model`` on ``ds`` and write the run directory; returns the metrics."""
    run_dir = Path(run_dir)
    work = prepare_run_dir(run_dir, overwrite, resume)
    torch.manual_seed(cfg.train.seed)
    n = ds.cohort.n_samples
    saved = work / "split.tsv"
    if resume and saved.exists():
        split = split_from_labels(pl.read_csv(saved, separator="\t")["split"].to_numpy())
    else:
        split = make_split(n, cfg.train)
        pl.DataFrame(
            {"IID": [str(s) for s in ds.cohort.samples], "split": list(split_labels(n, split))}
        ).write_csv(saved, separator="\t")
    log(
        f"split: {len(split['train'])} train, {len(split['val'])} validation, "
        f"{len(split['test'])} test samples (seed {cfg.train.seed})"
    )
    prep = Prepared(ds, split)
    t0 = time.perf_counter()
    m = cfg.model
    if m.fit == "auto" or m.global_epistasis and m.fit == "sparse":  # choose.py: sets cfg.model
        pred, history, selection, info = fit_auto(prep, cfg, work, resume, log)
    elif m.fit == "sparse":
        pred, history, selection, info = fit_sparse(prep, m, cfg.train.accelerator, log)
    elif m.fit == "ridge":
        pred, history, selection, info = fit_ridge(prep, cfg, log)
    else:
        pred, history, selection, info = fit_sgd(prep, cfg, work, resume, log)
    seconds = time.perf_counter() - t0
    result = {"model": m.kind, "fit": m.fit, "seconds": seconds, **score(pred, prep)}
    result.update(info.pop("result", {}))  # fit auto: every candidate's validation loss
    if baseline and not (m.kind == "additive" and m.fit == "sparse"):
        add_cfg = copy.deepcopy(m)
        add_cfg.kind, add_cfg.fit = "additive", "sparse"
        add_pred = fit_sparse(prep, add_cfg, cfg.train.accelerator, lambda s: None)[0]
        result["additive"] = score(add_pred, prep)
    info = {
        **info,
        "trait": ds.trait,
        "binary": bool(ds.binary),
        "covariates": list(ds.covariate_names),
        "n_samples": int(n),
        "n_loci": int(ds.cohort.n_loci),
        "kind": ds.cohort.kind,
    }
    save_run(
        work,
        _absolute_inputs(cfg),
        info,
        pred,
        ds.cohort.loci,
        ds.cohort.samples,
        split_labels(n, split),
        result,
        history,
        selection,
    )
    finish_run(work, run_dir)
    return result

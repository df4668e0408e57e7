"""The sgd route: Lightning training of SA_lin, HyperFeatureAttention, HyperAttention (and more).

What makes gradient training stable on cohorts (n samples << |S|^2 parameters of A):

* main effects: one per (locus, state) token, warm-started with the intercept and covariate
  effects from the additive fit on the same split; the attention part starts as a small
  perturbation of it (its initial score has std ``model.init_std``);
* step size: the readout trains at ``train.lr``, the attention factors at lr / sqrt(entity tuples)
  (``build.attention_lr_scale``); gradients are clipped to norm ``train.grad_clip``;
* regularisation: a ridge penalty on the identifiable invariant (SA_lin: ||C diag(w_V)||_F^2),
  not on the raw factors, which trade scale freely; early stopping on the validation loss and
  the best checkpoint.

Distributed training: only global rank 0 touches the run directory (see ``fit.fit``); the data
module shards samples itself (``lit.EpochSampler``), so DDP padding never reaches the metrics, and
the final metrics are computed by rank 0 over every row.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import lightning as L
import numpy as np
import polars as pl
import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from genoattn.config import FitConfig
from genoattn.system.build import (
    attention_lr_scale,
    build_genetic_model,
    main_lr_scale,
    scale_initial_output,
)
from genoattn.system.lit import CohortSystem, TokenDataModule
from genoattn.system.outcome import FitOutcome
from genoattn.system.predictor import CohortPredictor
from genoattn.system.rundir import launched_rank

Log = Callable[[str], None]


class AtomicCheckpointIO(TorchCheckpointIO):
    """Checkpoints written to a temporary file and renamed: a kill mid-save leaves the old one."""

    def save_checkpoint(self, checkpoint, path, storage_options=None) -> None:
        tmp = f"{path}.tmp"
        super().save_checkpoint(checkpoint, tmp, storage_options)
        os.replace(tmp, path)


def _warm_start(pred: CohortPredictor, warm: CohortPredictor | None) -> None:
    """Copy main effects, covariate effects and intercept of the additive fit into ``pred``."""
    if warm is None:
        return
    with torch.no_grad():
        if pred.main is not None:
            pred.main.copy_(warm.genetic.diag.to(pred.main.dtype))
        pred.cov_beta.copy_(warm.cov_beta)
        pred.bias.copy_(warm.bias)


def build_sgd_predictor(prep, cfg: FitConfig, warm: CohortPredictor | None) -> CohortPredictor:
    """The predictor before training: model built from the config, warm-started, rescaled."""
    m = cfg.model
    genetic = build_genetic_model(m, prep.vocab, cfg.train.seed)
    n_main = prep.vocab.size if m.main_effects and m.kind in ("sa", "hfa", "ha") else 0
    pred = prep.predictor(genetic, m.global_epistasis, n_main)
    _warm_start(pred, warm)
    rows = prep.split["train"][: min(512, len(prep.split["train"]))]
    if len(rows) > 1 and m.init_std > 0:
        tokens = torch.as_tensor(prep.ds.cohort.tokens(rows), dtype=torch.int64)
        scale_initial_output(genetic, m.kind, tokens, m.init_std)
    return pred


def _trainer(cfg: FitConfig, ckpt_dir: Path, callbacks: list) -> L.Trainer:
    t = cfg.train
    return L.Trainer(
        max_epochs=t.max_epochs,
        accelerator=t.accelerator,
        devices=t.devices,
        strategy=t.strategy,
        precision=t.precision,
        callbacks=callbacks,
        logger=False,
        enable_progress_bar=t.progress,
        enable_model_summary=False,
        deterministic=True,
        gradient_clip_val=t.grad_clip or None,
        num_sanity_val_steps=0,
        use_distributed_sampler=False,
        plugins=[AtomicCheckpointIO()],
        default_root_dir=str(ckpt_dir.parent),
    )


def fit_sgd(
    prep, cfg: FitConfig, work: Path, resume: bool, log: Log, warm: CohortPredictor | None = None
) -> FitOutcome:
    """Train with Lightning; returns the :class:`FitOutcome` of the best-epoch weights.

    ``warm``: the additive fit of the same split (main effects, covariates, intercept).
    """
    L.seed_everything(cfg.train.seed, workers=True, verbose=False)
    pred = build_sgd_predictor(prep, cfg, warm)
    scale = attention_lr_scale(cfg.model, prep.vocab)
    main_scale = main_lr_scale(cfg.model, prep.vocab)
    system = CohortSystem(pred, cfg.train.lr, cfg.train.weight_decay, scale, main_scale)
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
        dirpath=ckpt_dir, monitor="val_loss", filename="best", enable_version_counter=False
    )
    # every epoch's state (the best-model callback's save_last only follows improvements)
    latest = L.pytorch.callbacks.ModelCheckpoint(
        dirpath=ckpt_dir, filename="last", monitor=None, save_top_k=1, enable_version_counter=False
    )
    stop = L.pytorch.callbacks.EarlyStopping(monitor="val_loss", patience=cfg.train.patience)
    trainer = _trainer(cfg, ckpt_dir, [stop, best, latest])
    last = ckpt_dir / "last.ckpt"
    ckpt_path = str(last) if resume and last.exists() else None
    if ckpt_path and launched_rank() == 0:
        log(f"resuming from {last}")
    trainer.fit(system, datamodule=dm, ckpt_path=ckpt_path, weights_only=True)
    # read back from the files: under ddp_spawn the training ran in other processes
    best_path = best.best_model_path or (str(last) if last.exists() else "")
    history = system.history
    if best_path:
        state = torch.load(best_path, map_location="cpu", weights_only=True)
        system.load_state_dict(state["state_dict"])
    if last.exists():
        history = torch.load(last, map_location="cpu", weights_only=True).get(
            "genoattn_history", history
        )
    frame = pl.DataFrame(
        history or [{"epoch": 0, "train_loss": float("nan"), "val_loss": float("nan")}]
    )
    n_main = int(pred.main.numel()) if pred.main is not None else 0
    return FitOutcome(system.predictor.cpu(), frame, main_effects=n_main)


def sgd_curve_summary(history: pl.DataFrame) -> str:
    """One log line: epochs run and the best validation loss."""
    if history.height == 0 or "val_loss" not in history.columns:
        return "sgd: no epochs"
    v = np.asarray(history["val_loss"], dtype=np.float64)
    return f"sgd: {history.height} epochs, best validation loss {np.nanmin(v):.4f}"

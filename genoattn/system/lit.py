"""Lightning system and data module for the gradient-trained models (fit: sgd).

The LightningModule is the system (loss, metrics, optimiser), not the model: it wraps a
:class:`CohortPredictor`. Tokens are made per batch from the int8 state matrix (memory-mapped
from the cache), so no (n, l) int64 copy of the cohort is ever held.

Determinism and distribution (Lightning's own sampler replacement is switched off):

* the training order of epoch e is a permutation seeded by (seed, e), so a fit resumed from the
  checkpoint of epoch k replays epochs k+1... exactly as an uninterrupted fit would;
* under DDP each rank takes every world-th sample of that order (the training shards are padded
  to equal length, as DDP needs the same number of steps on every rank); validation shards are
  not padded, and the epoch losses are exact sums over samples reduced across ranks, so neither
  padding nor uneven shards enter ``val_loss`` (early stopping, checkpoints, history).
"""

from __future__ import annotations

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from genoattn.contract import states_to_tokens
from genoattn.system.predictor import CohortPredictor


class _Rows(Dataset):
    """Samples ``rows`` of the cohort: yields (row index) and collates into tensors."""

    def __init__(self, rows: np.ndarray):
        self.rows = np.asarray(rows)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> int:
        return int(self.rows[i])


class EpochSampler(Sampler[int]):
    """Positions 0..n-1 of a split: shuffled by (seed, epoch), then this rank's share.

    Args:
        n: split size. shuffle: permute (training) or keep the order (evaluation).
        rank, world: this process's global rank and the number of processes.
        pad: repeat the first positions so that every rank gets ceil(n / world) (training).
    """

    def __init__(
        self, n: int, seed: int, shuffle: bool, rank: int = 0, world: int = 1, pad: bool = True
    ):
        self.n, self.seed, self.shuffle = n, seed, shuffle
        self.rank, self.world, self.pad = rank, world, pad
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def indices(self) -> np.ndarray:
        if self.shuffle:
            order = np.random.default_rng([self.seed, self.epoch]).permutation(self.n)
        else:
            order = np.arange(self.n)
        if self.world > 1:
            if self.pad:
                order = np.resize(order, -(-self.n // self.world) * self.world)
            order = order[self.rank :: self.world]
        return order

    def __iter__(self):
        return iter(self.indices().tolist())

    def __len__(self) -> int:
        return len(self.indices())


class TokenDataModule(L.LightningDataModule):
    """Train / validation / test loaders over an aligned cohort.

    Args:
        states: shape (n, l), int8 local states (may be a memmap).
        offsets: shape (l,), token offsets of the contract.
        y: shape (n,), float32 trait (standardised, or 0/1). cov: shape (n, c) standardised.
        split: dict name -> row indices (train, val, test).
    """

    def __init__(
        self, states, offsets, y, cov, split: dict[str, np.ndarray], batch_size: int, seed: int = 0
    ):
        super().__init__()
        self.states, self.offsets = states, offsets
        self.y = torch.as_tensor(y, dtype=torch.float32)
        self.cov = torch.as_tensor(cov, dtype=torch.float32)
        self.split, self.batch_size, self.seed = split, batch_size, seed

    def _collate(self, rows: list[int]):
        idx = np.sort(np.asarray(rows))
        tokens = torch.from_numpy(states_to_tokens(np.asarray(self.states[idx]), self.offsets))
        t = torch.as_tensor(idx)
        return tokens.long(), self.cov[t], self.y[t]

    def _loader(self, name: str, train: bool) -> DataLoader:
        rank, world = 0, 1
        if self.trainer is not None:
            rank, world = self.trainer.global_rank, self.trainer.world_size
        rows = self.split[name]
        sampler = EpochSampler(len(rows), self.seed, train, rank, world, pad=train)
        # the global batch stays batch_size: DDP averages the ranks' gradients, so a step sees
        # (about) the same samples and the same number of steps run per epoch as on one device
        return DataLoader(
            _Rows(rows),
            batch_size=max(1, -(-self.batch_size // world)),
            sampler=sampler,
            collate_fn=self._collate,
            num_workers=0,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", False)


class CohortSystem(L.LightningModule):
    """Loss (MSE or BCE) plus a ridge penalty on the model's invariant, AdamW, epoch history.

    Args:
        predictor: the model plus readout.
        lr: step size of the readout (main effects, covariates, intercept, output nonlinearity).
        lr_scale: factor on ``lr`` for the attention factors (see ``build.attention_lr_scale``).
        main_lr_scale: factor on ``lr`` for the per-token main effects (``build.main_lr_scale``).
        penalty: lambda of lambda * ||invariant||_F^2 when the genetic model has
            ``invariant_sq_norm`` (SA_lin, HyperAttention, HyperFeatureAttention); otherwise
            decoupled AdamW weight decay of that strength on the genetic parameters.
    """

    def __init__(
        self,
        predictor: CohortPredictor,
        lr: float,
        penalty: float,
        lr_scale: float = 1.0,
        main_lr_scale: float = 1.0,
    ):
        super().__init__()
        self.predictor = predictor
        self.lr, self.penalty, self.lr_scale = lr, penalty, lr_scale
        self.main_lr_scale = main_lr_scale
        self.history: list[dict] = []
        # sums over samples of this epoch's loss, and the sample counts (train, val)
        self._sums = torch.zeros(4, dtype=torch.float64)
        for p in predictor.parameters():  # empty parameters (no global epistasis) never get grads
            if p.numel() == 0:
                p.requires_grad_(False)

    def _data_loss(self, batch) -> torch.Tensor:
        tokens, cov, y = batch
        eta = self.predictor(tokens, cov)
        if self.predictor.binary:
            return torch.nn.functional.binary_cross_entropy_with_logits(eta, y)
        return torch.nn.functional.mse_loss(eta, y)

    def _penalised(self) -> bool:
        return hasattr(self.predictor.genetic, "invariant_sq_norm")

    def _accumulate(self, loss: torch.Tensor, b: int, slot: int) -> None:
        self._sums[slot] += float(loss.detach()) * b
        self._sums[slot + 1] += b

    def on_train_epoch_start(self) -> None:
        self._sums.zero_()

    def training_step(self, batch, batch_idx):
        loss = self._data_loss(batch)
        self._accumulate(loss, batch[0].shape[0], 0)
        if self.penalty > 0 and self._penalised():
            loss = loss + self.penalty * self.predictor.genetic.invariant_sq_norm()
        return loss

    def on_validation_epoch_start(self) -> None:
        self._sums[2:] = 0.0

    def validation_step(self, batch, batch_idx):
        loss = self._data_loss(batch)
        self._accumulate(loss, batch[0].shape[0], 2)
        return loss

    def on_validation_epoch_end(self) -> None:
        # exact per-sample means over every rank's (unpadded) share, not a mean of rank means
        sums = self.trainer.strategy.reduce(self._sums.to(self.device), reduce_op="sum")
        sums = sums.double().cpu()
        train = float(sums[0] / sums[1]) if sums[1] > 0 else float("nan")
        val = float(sums[2] / sums[3])
        self.log("val_loss", val, on_epoch=True, prog_bar=True, sync_dist=True)
        if self.trainer.sanity_checking:
            return
        self.log("train_loss", train, on_epoch=True, prog_bar=True, sync_dist=True)
        epoch = int(self.current_epoch)
        self.history.append({"epoch": epoch, "train_loss": train, "val_loss": val})

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        # plain floats and ints: the checkpoint still loads with weights_only=True
        checkpoint["genoattn_history"] = [dict(h) for h in self.history]

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        self.history = [dict(h) for h in checkpoint.get("genoattn_history", [])]

    def configure_optimizers(self):
        genetic = [p for p in self.predictor.genetic.parameters() if p.requires_grad]
        ids = {id(p) for p in genetic}
        readout = [p for p in self.predictor.parameters() if p.requires_grad and id(p) not in ids]
        decay = 0.0 if self._penalised() else self.penalty
        main = [p for p in readout if p is self.predictor.main]
        readout = [p for p in readout if p is not self.predictor.main]
        return torch.optim.AdamW(
            [
                {"params": readout, "lr": self.lr, "weight_decay": 0.0},
                {"params": main, "lr": self.lr * self.main_lr_scale, "weight_decay": 0.0},
                {"params": genetic, "lr": self.lr * self.lr_scale, "weight_decay": decay},
            ]
        )

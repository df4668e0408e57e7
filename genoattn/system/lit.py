"""Lightning system and data module for the gradient-trained models (fit: sgd).

The LightningModule is the system (loss, metrics, optimiser), not the model: it wraps a
:class:`CohortPredictor`. Tokens are made per batch from the int8 state matrix (memory-mapped
from the cache), so no (n, l) int64 copy of the cohort is ever held.
"""

from __future__ import annotations

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

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

    def _loader(self, name: str, shuffle: bool) -> DataLoader:
        g = torch.Generator().manual_seed(self.seed)
        return DataLoader(
            _Rows(self.split[name]),
            batch_size=self.batch_size,
            shuffle=shuffle,
            collate_fn=self._collate,
            generator=g,
            num_workers=0,
        )

    def train_dataloader(self) -> DataLoader:
        return self._loader("train", True)

    def val_dataloader(self) -> DataLoader:
        return self._loader("val", False)

    def test_dataloader(self) -> DataLoader:
        return self._loader("test", False)


class CohortSystem(L.LightningModule):
    """Loss (MSE or BCE), validation metric, AdamW with weight decay.

    Args:
        predictor: the model plus readout. lr, weight_decay: AdamW settings.
    """

    def __init__(self, predictor: CohortPredictor, lr: float, weight_decay: float):
        super().__init__()
        self.predictor = predictor
        self.lr, self.weight_decay = lr, weight_decay
        self.history: list[dict] = []
        self._epoch_losses: dict[str, list[float]] = {"train": [], "val": []}

    def _loss(self, batch) -> torch.Tensor:
        tokens, cov, y = batch
        eta = self.predictor(tokens, cov)
        if self.predictor.binary:
            return torch.nn.functional.binary_cross_entropy_with_logits(eta, y)
        return torch.nn.functional.mse_loss(eta, y)

    def _logged_loss(self, batch, name: str) -> torch.Tensor:
        loss = self._loss(batch)
        self.log(
            name, loss, on_step=False, on_epoch=True, prog_bar=True, batch_size=batch[0].shape[0]
        )
        return loss

    def training_step(self, batch, batch_idx):
        return self._logged_loss(batch, "train_loss")

    def validation_step(self, batch, batch_idx):
        return self._logged_loss(batch, "val_loss")

    def on_train_epoch_end(self) -> None:
        # Lightning validates before this hook, so both losses here belong to this epoch
        m = self.trainer.callback_metrics
        if "train_loss" in m and "val_loss" in m:
            self.history.append(
                {
                    "epoch": int(self.current_epoch),
                    "train_loss": float(m["train_loss"]),
                    "val_loss": float(m["val_loss"]),
                }
            )

    def configure_optimizers(self):
        return torch.optim.AdamW(self.parameters(), lr=self.lr, weight_decay=self.weight_decay)

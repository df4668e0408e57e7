"""The cohort readout around any genetic model: covariates, intercept, trait scale and link.

Axis legend: b batch, l loci, c covariates.

phenotype = bias + g(genetic(tokens)) + covariates . beta, in standardised trait units
(quantitative) or on the logit scale (binary). ``predict`` returns trait units or case
probabilities. g is the identity, or with ``global_epistasis = K > 0`` a learned monotone
nonlinearity g(z) = z + sum_k softplus(a_k) tanh(softplus(b_k) (z - c_k)) — "global epistasis"
(Otwinowski, McCandlish & Plotkin 2018): sequence effects add on a latent scale that the
measured trait saturates or sharpens. Each term has a positive slope, so g is increasing.

With ``n_main > 0`` the genetic score also gets one main effect per token, sum_i main[t_i]: the
full diagonal of the SA_lin invariant A = diag(main) + C diag(w_V), which a rank-r C cannot
represent on its own (the sgd route warm-starts it from the additive fit).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn


class CohortPredictor(nn.Module):
    """Wraps a genetic model (tokens (b, l) -> (b,)) with the readout.

    Args:
        genetic: the attention (or additive) model.
        n_cov: number of covariates c.
        binary: logistic link (True) or identity link (False).
        y_mean, y_std: trait standardisation (identity link; 0 and 1 for binary traits).
        cov_mean, cov_std: shape (c,), covariate standardisation from the training samples.
        global_epistasis: K monotone tanh units on the genetic score (0: identity).
        n_main: s, to add one main effect per token (0: none).
    """

    def __init__(
        self,
        genetic: nn.Module,
        n_cov: int,
        binary: bool,
        y_mean: float = 0.0,
        y_std: float = 1.0,
        cov_mean: torch.Tensor | None = None,
        cov_std: torch.Tensor | None = None,
        global_epistasis: int = 0,
        n_main: int = 0,
    ):
        super().__init__()
        # (s,) or absent, so that runs saved without main effects load strictly
        self.main = nn.Parameter(torch.zeros(n_main)) if n_main else None
        k = global_epistasis
        # starts near the identity: small amplitudes, knots spread over the standardised scale
        self.ge_a = nn.Parameter(torch.full((k,), -4.0))  # (k,)
        self.ge_b = nn.Parameter(torch.zeros(k))  # (k,)
        self.ge_c = nn.Parameter(torch.linspace(-2.0, 2.0, k) if k > 1 else torch.zeros(k))
        self.genetic = genetic
        self.binary = binary
        self.cov_beta = nn.Parameter(torch.zeros(n_cov))  # (c,)
        self.bias = nn.Parameter(torch.zeros(()))
        self.register_buffer("y_mean", torch.tensor(float(y_mean)))
        self.register_buffer("y_std", torch.tensor(float(y_std)))
        self.register_buffer("cov_mean", torch.zeros(n_cov) if cov_mean is None else cov_mean)
        self.register_buffer("cov_std", torch.ones(n_cov) if cov_std is None else cov_std)

    def standardise_cov(self, cov: torch.Tensor) -> torch.Tensor:
        """(b, c) raw covariates -> standardised (b, c)."""
        return (cov - self.cov_mean) / self.cov_std

    def forward(self, tokens: torch.Tensor, cov_std: torch.Tensor) -> torch.Tensor:
        """Linear predictor (b,) in standardised units / logits; cov_std is standardised (b, c)."""
        z = self.genetic(tokens)
        if self.main is not None:
            z = z + (self.main[tokens] * (tokens != 0).to(self.main.dtype)).sum(-1)
        if self.ge_a.numel():
            amp = nn.functional.softplus(self.ge_a)
            slope = nn.functional.softplus(self.ge_b)
            z = z + (amp * torch.tanh(slope * (z[:, None] - self.ge_c))).sum(-1)
        eta = self.bias + z
        if self.cov_beta.numel():
            eta = eta + cov_std @ self.cov_beta
        return eta

    @torch.no_grad()
    def predict(self, tokens: torch.Tensor, cov: torch.Tensor) -> torch.Tensor:
        """(b,) predictions in trait units, or case probabilities for binary traits."""
        eta = self.forward(tokens, self.standardise_cov(cov))
        if self.binary:
            return torch.sigmoid(eta)
        return eta * self.y_std + self.y_mean


#: Tokens per prediction batch when the loci are many (rows = BATCH_ENTRIES / l, 16 to 512).
BATCH_ENTRIES = 1 << 21


@torch.no_grad()
def predict_batched(
    pred: CohortPredictor,
    tokens: Callable[[slice], np.ndarray],
    cov: torch.Tensor,
    batch: int | None = None,
) -> np.ndarray:
    """Predictions (trait units or probabilities) of the n samples of ``cov`` (n, c), in batches.

    ``tokens(sl)`` gives the (b, l) int tokens of the samples ``sl`` (a slice of 0..n), so the
    cohort is tokenised one batch at a time. ``batch`` (None: automatic): rows per batch; by
    default 512, fewer when l is large, so that a batch's tokens stay near BATCH_ENTRIES (a
    batch that outgrows the CPU caches made prediction grow 2.9x per doubling of l).
    """
    pred = pred.cpu().eval()
    n = cov.shape[0]
    if batch is None:
        l = np.asarray(tokens(slice(0, 1))).shape[1] if n else 1
        batch = max(16, min(512, BATCH_ENTRIES // max(l, 1)))
    out = []
    for i in range(0, n, batch):
        sl = slice(i, min(i + batch, n))
        tok = torch.as_tensor(tokens(sl), dtype=torch.int64)
        out.append(pred.predict(tok, cov[sl]).numpy())
    return np.concatenate(out) if out else np.zeros(0)

"""Predict a trait for new genotypes with a fitted run: map their loci and states onto the run's.

A locus of the run is matched by ID (and must agree on REF); states are matched by label, so a
cohort whose ALT alleles or observed genotype classes differ still maps correctly. Run loci absent
from the new cohort, and states the run never saw, become missing entities (token 0), which
contribute nothing: the contract's missing-value rule.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import polars as pl
import torch

from genoattn.contract import MISSING, Cohort, states_to_tokens, token_offsets
from genoattn.errors import GenoattnError
from genoattn.system.rundir import Run


def map_states(
    run_loci: pl.DataFrame, cohort: Cohort, label: str, log: Callable[[str], None] = print
) -> np.ndarray:
    """States of ``cohort`` re-coded in the run's locus order and state codes.

    Returns: shape (n, l_run), int8, MISSING where the locus or state is unknown to the run.
    """
    pos = {s: i for i, s in enumerate(cohort.loci["id"].to_list())}
    n = cohort.n_samples
    out = np.full((n, run_loci.height), MISSING, dtype=np.int8)
    new_states = cohort.loci["states"].to_list()
    new_ref = cohort.loci["ref"].to_list()
    matched = 0
    for j, (lid, ref, states) in enumerate(
        zip(
            run_loci["id"].to_list(),
            run_loci["ref"].to_list(),
            run_loci["states"].to_list(),
            strict=True,
        )
    ):
        i = pos.get(lid)
        if i is None or new_ref[i] != ref:
            continue
        matched += 1
        code = {s: k for k, s in enumerate(states)}
        lut = np.array([code.get(s, MISSING) for s in new_states[i]] + [MISSING], dtype=np.int8)
        col = np.asarray(cohort.states[:, i])
        out[:, j] = lut[np.where(col == MISSING, len(lut) - 1, col)]
    if matched == 0:
        raise GenoattnError(
            f"none of the run's {run_loci.height} loci are in this file "
            "(loci are matched by ID and REF)",
            label,
        )
    log(
        f"loci: {matched} of the run's {run_loci.height} found in {label}"
        + ("" if matched == run_loci.height else "; the others are treated as missing")
    )
    return out


def predict_cohort(
    run: Run,
    cohort: Cohort,
    label: str,
    covariates: np.ndarray | None = None,
    batch: int = 512,
    log: Callable[[str], None] = print,
) -> np.ndarray:
    """Predictions (trait units, or case probabilities) for every sample of ``cohort``.

    covariates: shape (n, c) in the run's covariate order (NaN = missing), or None: missing
    covariates are set to the training samples' mean.
    """
    if cohort.kind != run.info.get("kind", cohort.kind):
        raise GenoattnError(
            f"this run was fit on {run.info['kind']} data, got {cohort.kind}", label
        )
    states = map_states(run.loci, cohort, label, log)
    offsets = token_offsets(run.loci["n_states"].to_numpy())
    pred = run.predictor
    c = pred.cov_beta.numel()
    cov = pred.cov_mean.expand(cohort.n_samples, c).clone()
    if covariates is not None:  # a sample's missing covariate is set to the training mean
        given = torch.as_tensor(covariates, dtype=torch.float32)
        cov = torch.where(torch.isnan(given), cov, given)
    out = []
    for i in range(0, cohort.n_samples, batch):
        tok = torch.as_tensor(states_to_tokens(states[i : i + batch], offsets), dtype=torch.int64)
        out.append(pred.predict(tok, cov[i : i + batch]).numpy())
    return np.concatenate(out) if out else np.zeros(0)

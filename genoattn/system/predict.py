"""Predict a trait for new genotypes or sequences with a fitted run: map loci and states onto it.

Loci are matched to the run's loci, never filtered: ``predict`` applies no QC, and every locus of
the run keeps its column. Genotype loci are matched by ID and must agree on REF; sequence loci
(FASTA) are matched by alignment column and alphabet (the contract's chrom and pos), since ref/alt
of an alignment only describe the file they were read from. States are matched by label, so a
cohort whose ALT alleles, observed genotype classes or observed residues differ still maps
correctly. Run loci absent from the new cohort, and states (residues, genotype classes) the run
never saw, become missing entities (token 0), which contribute nothing: the contract's
missing-value rule. Both are counted in the log.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl
import torch

from genoattn.config import DataConfig, QCConfig
from genoattn.contract import MISSING, SEQUENCE, Cohort, states_to_tokens, token_offsets
from genoattn.errors import GenoattnError
from genoattn.system.predictor import predict_batched
from genoattn.system.rundir import Run


def _locus_keys(loci: pl.DataFrame, kind: str) -> list[tuple]:
    """The identity of each locus: its alignment column for sequences (the alphabet is checked
    once, by :func:`check_sequence_width`), (ID, REF) for genotypes."""
    if kind == SEQUENCE:
        return [(p,) for p in loci["pos"].to_list()]
    return list(zip(loci["id"].to_list(), loci["ref"].to_list(), strict=True))


def map_states(
    run_loci: pl.DataFrame,
    cohort: Cohort,
    label: str,
    log: Callable[[str], None] = print,
) -> np.ndarray:
    """States of ``cohort`` re-coded in the run's locus order and state codes.

    Args:
        run_loci: the run's locus table (contract schema), l_run rows.
        cohort: the new cohort, states shape (n, l_new) int8.

    Returns: shape (n, l_run), int8, MISSING where the locus or state is unknown to the run.
    """
    pos = {k: i for i, k in enumerate(_locus_keys(cohort.loci, cohort.kind))}
    n = cohort.n_samples
    out = np.full((n, run_loci.height), MISSING, dtype=np.int8)
    new_states = cohort.loci["states"].to_list()
    matched, unseen = 0, 0
    for j, (key, states) in enumerate(
        zip(_locus_keys(run_loci, cohort.kind), run_loci["states"].to_list(), strict=True)
    ):
        i = pos.get(key)
        if i is None:
            continue
        matched += 1
        code = {s: k for k, s in enumerate(states)}
        lut = np.array([code.get(s, MISSING) for s in new_states[i]] + [MISSING], dtype=np.int8)
        col = np.asarray(cohort.states[:, i])
        out[:, j] = lut[np.where(col == MISSING, len(lut) - 1, col)]
        unseen += int(((col != MISSING) & (out[:, j] == MISSING)).sum())
    if matched == 0:
        how = "alignment column and alphabet" if cohort.kind == SEQUENCE else "ID and REF"
        raise GenoattnError(
            f"none of the run's {run_loci.height} loci are in this file (loci are matched by "
            f"{how})",
            label,
        )
    what = "residues" if cohort.kind == SEQUENCE else "genotype classes"
    log(
        f"loci: {matched} of the run's {run_loci.height} found in {label}"
        + ("" if matched == run_loci.height else "; the others are treated as missing")
        + f"; {unseen} calls with {what} unseen in training treated as missing"
    )
    return out


def check_sequence_width(run_loci: pl.DataFrame, cohort: Cohort, label: str) -> None:
    """A sequence run's columns must exist in the new alignment (same alphabet, long enough)."""
    if cohort.kind != SEQUENCE or run_loci.height == 0:
        return
    from genoattn.io.fasta import ALPHABETS

    want = set(run_loci["chrom"].to_list())
    got = set(cohort.loci["chrom"].to_list())
    if want <= set(ALPHABETS) and got <= set(ALPHABETS) and not want & got:
        raise GenoattnError(
            f"alphabet {sorted(got)} but the run was fit on {sorted(want)} sequences "
            "(give --alphabet)",
            label,
        )
    need = int(run_loci["pos"].max())
    if cohort.n_loci < need:
        raise GenoattnError(
            f"alignment has {cohort.n_loci} columns but the run uses columns up to {need}", label
        )


def predict_cohort(
    run: Run,
    cohort: Cohort,
    label: str,
    covariates: np.ndarray | None = None,
    batch: int | None = None,
    log: Callable[[str], None] = print,
    training_means: bool = False,
) -> np.ndarray:
    """Predictions (trait units, or case probabilities) for every sample of ``cohort``.

    covariates: shape (n, c) in the run's covariate order (NaN = missing: the training mean), or
    None, allowed for a run with covariates only when ``training_means`` (every covariate at its
    training mean).

    Raises:
        GenoattnError: kind mismatch; no run locus found; a run with covariates and none given.
    """
    if cohort.kind != run.info.kind:
        raise GenoattnError(f"this run was fit on {run.info.kind} data, got {cohort.kind}", label)
    pred = run.predictor
    c = pred.cov_beta.numel()
    if c and covariates is None and not training_means:
        names = ", ".join(run.info.covariates) or f"{c} covariates"
        raise GenoattnError(
            f"this run was fit with covariates ({names}): give --covar FILE, or --no-covar to "
            "set them to the training means",
            label,
        )
    check_sequence_width(run.loci, cohort, label)
    states = map_states(run.loci, cohort, label, log)
    offsets = token_offsets(run.loci["n_states"].to_numpy())
    cov = pred.cov_mean.expand(cohort.n_samples, c).clone()
    if covariates is not None:  # a sample's missing covariate is set to the training mean
        given = torch.as_tensor(covariates, dtype=torch.float32)
        cov = torch.where(torch.isnan(given), cov, given)
    return predict_batched(pred, lambda sl: states_to_tokens(states[sl], offsets), cov, batch)


def prediction_table(
    samples: np.ndarray, pred: np.ndarray, fids: np.ndarray | None = None
) -> pl.DataFrame:
    """The ``predict`` output: FID, IID, PRED (trait units, or the case probability).

    FID is the .fam family ID for PLINK input, else the IID (as plink --double-id does).
    """
    iid = [str(s) for s in samples]
    fid = iid if fids is None else [str(f) for f in fids]
    return pl.DataFrame(
        {"FID": fid, "IID": iid, "PRED": np.asarray(pred, dtype=np.float64)},
        schema={"FID": pl.String, "IID": pl.String, "PRED": pl.Float64},
    )


def run_alphabet(run: Run) -> str | None:
    """The FASTA alphabet a sequence run was fit on (None for genotype runs)."""
    from genoattn.io.fasta import ALPHABETS, infer_alphabet

    if run.info.kind != SEQUENCE:
        return None
    chroms = set(run.loci["chrom"].to_list())
    if len(chroms) == 1 and next(iter(chroms)) in ALPHABETS:
        return next(iter(chroms))
    return run.cfg.data.alphabet or infer_alphabet(
        {s for st in run.loci["states"].to_list() for s in st}
    )


def family_ids(bfile: str | Path, samples: np.ndarray) -> np.ndarray:
    """The .fam FID of each sample (by IID) of a PLINK fileset."""
    base = Path(bfile)
    base = base.with_suffix("") if base.suffix in (".bed", ".bim", ".fam") else base
    fam = base.with_name(base.name + ".fam")
    fid = {}
    for line in fam.read_text().splitlines():
        parts = line.split()
        if len(parts) >= 2:
            fid[parts[1]] = parts[0]
    return np.asarray([fid.get(str(s), str(s)) for s in samples], dtype=object)


def predict_inputs(
    run: Run,
    data: DataConfig,
    covar: str | Path | None = None,
    training_means: bool = False,
    progress: bool = False,
    log: Callable[[str], None] = print,
) -> pl.DataFrame:
    """The ``predict`` table (FID IID PRED) of the cohort ``data`` names, with a fitted run.

    No QC is applied; a FASTA without an alphabet is read as the run's. Covariates are read from
    ``covar`` (columns named as in the run) or, with ``training_means``, set to the training
    means.
    """
    from genoattn.data.load import load_genotypes

    data = copy.deepcopy(data)
    data.qc = QCConfig(drop_monomorphic=False)  # predict never filters loci or samples
    if data.fasta is not None and data.alphabet is None:
        data.alphabet = run_alphabet(run)  # read as the run's alphabet, not re-inferred
    cohort = load_genotypes(data, progress=progress, log=log)
    cov = None
    if covar is not None and run.info.covariates:
        from genoattn.io.table import read_covariates

        cov = read_covariates(covar, list(run.info.covariates), cohort.samples)[0]
    label = str(data.vcf or data.bfile or data.pfile or data.fasta or data.zarr)
    pred = predict_cohort(run, cohort, label, cov, log=log, training_means=training_means)
    fids = family_ids(data.bfile, cohort.samples) if data.bfile is not None else None
    return prediction_table(cohort.samples, pred, fids)

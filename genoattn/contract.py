"""The data contract: how a sample becomes a sequence of typed entities; every reader targets it.

Axis legend: n samples, l loci (entities), s domain size |S| (all (locus, state) types).

A sample is a sequence of L entities, one per locus. Entity i has a type s(i) = (locus i, state),
drawn from the domain S = {(l, k) : 0 <= k < n_states[l]}. States are

* genotypes (kind ``"genotype"``): for a biallelic site the ALT dosage 0, 1, 2 (always three
  states, labels ``"0" "1" "2"``); for a multi-allelic site the unordered genotype classes that
  occur in the cohort, sorted, labelled ``"a/b"`` with allele indices a <= b (0 = REF);
* residues (kind ``"sequence"``): the alignment characters that occur in the column, sorted,
  gap ``-`` included as a residue.

Missing-value rule: a missing call has local state ``MISSING`` (-1). Its token is 0, the padding
token, whose one-hot embedding is the zero vector: a missing entity neither attends nor is attended
to and contributes nothing to a sum over entities. No imputation happens anywhere else.

Storage: ``states`` is an (n, l) int8 matrix of local state codes (compact; memory-mapped from the
cache). The global token index of entity i is ``offsets[i] + state + 1`` (0 for missing), so
the one-hot embedding x(s) in R^{|S|+1} is an index into an embedding table, never a dense tensor.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

MISSING: int = -1
PAD_TOKEN: int = 0
GENOTYPE = "genotype"
SEQUENCE = "sequence"

#: Fixed schema of the per-locus metadata table.
LOCUS_SCHEMA: dict[str, pl.DataType] = {
    "chrom": pl.String,
    "pos": pl.Int64,  # 1-based position; alignment column (1-based) for FASTA
    "id": pl.String,  # VCF ID, or CHROM:POS:REF:ALT when the ID is '.'
    "ref": pl.String,  # REF allele; for FASTA the consensus (most common) residue
    "alt": pl.String,  # comma-separated ALT alleles; for FASTA the other residues
    "n_states": pl.Int32,
    "states": pl.List(pl.String),  # label of each local state, in code order
}


def make_loci(chrom, pos, ids, ref, alt, states: list[list[str]]) -> pl.DataFrame:
    """Locus table with the contract's schema; '.' or empty IDs become CHROM:POS:REF:ALT."""
    chrom = [str(c) for c in chrom]
    pos = [int(p) for p in pos]
    ref = [str(r) for r in ref]
    alt = [str(a) for a in alt]
    out_ids = []
    for c, p, i, r, a in zip(chrom, pos, ids, ref, alt, strict=True):
        i = "" if i is None else str(i)
        out_ids.append(f"{c}:{p}:{r}:{a}" if i in ("", ".") else i)
    return pl.DataFrame(
        {
            "chrom": chrom,
            "pos": pos,
            "id": out_ids,
            "ref": ref,
            "alt": alt,
            "n_states": [len(s) for s in states],
            "states": [list(s) for s in states],
        },
        schema=LOCUS_SCHEMA,
    )


@dataclass(frozen=True)
class Cohort:
    """Encoded genotypes or sequences of a cohort.

    Attributes:
        states: shape (n_samples, n_loci), int8, local state code per entity, ``MISSING`` = -1.
        loci: polars frame with ``LOCUS_SCHEMA``, one row per locus, in entity order.
        samples: shape (n_samples,), str, sample IDs (unique).
        kind: ``"genotype"`` or ``"sequence"``.
    """

    states: np.ndarray
    loci: pl.DataFrame
    samples: np.ndarray
    kind: str = GENOTYPE

    def __post_init__(self):
        n, l = self.states.shape
        assert self.states.dtype == np.int8, f"states dtype {self.states.dtype}, expected int8"
        assert self.loci.height == l, f"{self.loci.height} locus rows for {l} loci"
        assert len(self.samples) == n, f"{len(self.samples)} sample IDs for {n} samples"
        assert self.kind in (GENOTYPE, SEQUENCE), self.kind

    @property
    def n_samples(self) -> int:
        return self.states.shape[0]

    @property
    def n_loci(self) -> int:
        return self.states.shape[1]

    @property
    def n_states(self) -> np.ndarray:
        """shape (l,), int64: number of states of each locus."""
        return self.loci["n_states"].to_numpy().astype(np.int64)

    @property
    def offsets(self) -> np.ndarray:
        """shape (l,), int64: token of state 0 of each locus, minus one (token 0 is padding)."""
        return token_offsets(self.n_states)

    @property
    def vocab_size(self) -> int:
        """|S| + 1: number of rows of the one-hot embedding table (row 0 = padding/missing)."""
        return int(self.n_states.sum()) + 1

    def tokens(self, rows=None) -> np.ndarray:
        """shape (n, l), int32: global token indices of the requested samples (all by default)."""
        st = self.states if rows is None else self.states[rows]
        return states_to_tokens(st, self.offsets)

    def subset(self, samples=None, loci=None) -> Cohort:
        """A cohort restricted to sample rows and/or locus columns (indices or boolean masks)."""
        st = self.states
        loc = self.loci
        ids = self.samples
        if samples is not None:
            st = st[np.asarray(samples)]
            ids = ids[np.asarray(samples)]
        if loci is not None:
            idx = np.asarray(loci)
            if idx.dtype == bool:
                idx = np.flatnonzero(idx)
            st = st[:, idx]
            loc = loc[idx.tolist()] if len(idx) else loc.clear()
        return Cohort(np.ascontiguousarray(st), loc, ids, self.kind)

    def is_biallelic(self) -> np.ndarray:
        """shape (l,), bool: genotype loci whose states are ALT dosages 0, 1, 2."""
        if self.kind != GENOTYPE:
            return np.zeros(self.n_loci, dtype=bool)
        return (~self.loci["alt"].str.contains(",")).to_numpy() & (self.n_states == 3)

    def dosages(self, rows=None) -> np.ndarray:
        """shape (n, l), float32: ALT dosage, NaN for missing; meaningful only where biallelic."""
        st = self.states if rows is None else self.states[rows]
        d = st.astype(np.float32)
        d[st == MISSING] = np.nan
        return d


def token_offsets(n_states: np.ndarray) -> np.ndarray:
    """shape (l,), int64: exclusive cumulative sum of ``n_states`` (token = offset + state + 1)."""
    n_states = np.asarray(n_states, dtype=np.int64)
    return np.concatenate([[0], np.cumsum(n_states)[:-1]]).astype(np.int64)


def states_to_tokens(states: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Map local states (n, l) int8 to global tokens (n, l) int32, missing -> ``PAD_TOKEN``."""
    st = states.astype(np.int32)
    tok = st + offsets[None, :].astype(np.int32) + 1
    tok[st == MISSING] = PAD_TOKEN
    return tok


def token_locus_state(n_states: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Inverse token map: shapes (|S|+1,), locus and state of each token (-1 for padding)."""
    n_states = np.asarray(n_states, dtype=np.int64)
    locus = np.repeat(np.arange(len(n_states)), n_states)
    state = np.concatenate([np.arange(k) for k in n_states]) if len(n_states) else np.zeros(0, int)
    return np.concatenate([[-1], locus]), np.concatenate([[-1], state])


@dataclass(frozen=True)
class Trait:
    """One phenotype column (and optional covariates) keyed by sample ID.

    Attributes:
        samples: shape (n,), str, sample IDs (IID).
        values: shape (n,), float64; NaN = missing; binary traits coded 0 (control) / 1 (case).
        name: the trait column's name.
        binary: True for case/control traits.
        covariates: shape (n, c), float64, or shape (n, 0) when there are none.
        covariate_names: length c.
    """

    samples: np.ndarray
    values: np.ndarray
    name: str
    binary: bool
    covariates: np.ndarray
    covariate_names: tuple[str, ...] = ()


@dataclass(frozen=True)
class Dataset:
    """Genotypes and trait aligned on the same samples (the input of every model and test).

    Attributes:
        cohort: the Cohort restricted to the used samples, in the same order as ``y``.
        y: shape (n,), float32 trait values (no missing).
        covariates: shape (n, c), float32 (c may be 0; no missing).
        trait: the trait's name.
        binary: True for case/control traits.
        covariate_names: length c.
    """

    cohort: Cohort
    y: np.ndarray
    covariates: np.ndarray
    trait: str
    binary: bool
    covariate_names: tuple[str, ...] = ()

    def __post_init__(self):
        n = self.cohort.n_samples
        assert self.y.shape == (n,), (self.y.shape, n)
        assert self.covariates.shape[0] == n, (self.covariates.shape, n)

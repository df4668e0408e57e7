"""FASTA of aligned sequences through biopython: records are samples, alignment columns are loci.

Axis legend: n samples (records), l loci (alignment columns).

Rules (documented choices):

* plain or gzipped text;
* residues are upper-cased (soft-masked lower case is the same residue); '.' is read as the gap '-';
* the gap '-' is a residue like any other (an indel allele);
* missing: 'N' (dna/rna), 'X' (protein) and '?' (any alphabet) are ``MISSING``;
* alphabet inferred as the first of dna, rna, protein that contains every character, or given;
* locus i (1-based column p): chrom = the alphabet name (``dna``, ``rna`` or ``protein``), pos = p,
  id = ``col{p}``, ref = most common residue (ties: first in sorted order), alt = the other observed
  residues comma-separated ('.' if none), states = observed residues sorted (``-`` sorts first).

A sequence locus is identified by its alignment column and alphabet alone (chrom, pos, id), never by
the file name or its consensus: ref/alt describe this file only, so another alignment of the same
columns (a test library, new variants) maps onto a fitted run column by column, residue by residue.
"""

from __future__ import annotations

import gzip
import os
import tempfile
from pathlib import Path

import numpy as np

from genoattn.contract import MISSING, SEQUENCE, Cohort, make_loci
from genoattn.errors import GenoattnError, require_file

_PROTEIN = "ACDEFGHIKLMNPQRSTVWYBZJUO*"
#: residues and missing-call characters of each alphabet ('-' is a residue in all of them).
ALPHABETS: dict[str, tuple[str, str]] = {
    "dna": ("ACGT-", "N?"),
    "rna": ("ACGU-", "N?"),
    "protein": (_PROTEIN + "-", "X?"),
}


def infer_alphabet(chars: set[str]) -> str | None:
    """The first alphabet (dna, rna, protein) whose residues and missing codes cover ``chars``."""
    for name, (res, miss) in ALPHABETS.items():
        if chars <= set(res + miss):
            return name
    return None


def _open_text(path: Path):
    with open(path, "rb") as f:
        gz = f.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rt") if gz else open(path)


def read_fasta(path: str | Path, alphabet: str | None = None) -> Cohort:
    """Read an aligned FASTA into a sequence :class:`Cohort`.

    Args:
        path: FASTA file; every record must have the same length (an alignment).
        alphabet: ``"dna"``, ``"rna"`` or ``"protein"``; inferred from the characters when None.

    Returns:
        Cohort(kind="sequence") with states shape (n, l) int8 = index of the residue among the
        column's observed residues, ``MISSING`` for N/X/?.

    Raises:
        GenoattnError: missing/empty/unparsable file, no records, unequal lengths, characters
            outside the alphabet, duplicate record IDs, unknown alphabet name.
    """
    from Bio import SeqIO

    path = require_file(path)
    if alphabet is not None and alphabet not in ALPHABETS:
        raise GenoattnError(f"unknown alphabet {alphabet!r}; expected one of {sorted(ALPHABETS)}")
    ids: list[str] = []
    seqs: list[bytes] = []
    try:
        with _open_text(path) as handle:
            if not handle.read(4096).lstrip().startswith(">"):
                raise GenoattnError("not a FASTA file: expected a '>' record header first", path)
            handle.seek(0)
            for rec in SeqIO.parse(handle, "fasta"):
                ids.append(rec.id)
                seqs.append(str(rec.seq).upper().replace(".", "-").encode("ascii", "replace"))
    except (UnicodeDecodeError, ValueError, OSError, EOFError) as e:
        raise GenoattnError(f"cannot parse FASTA ({e})", path) from None
    if not seqs:
        raise GenoattnError("FASTA has no records", path)
    lengths = {len(s) for s in seqs}
    if len(lengths) > 1:
        i = next(i for i, s in enumerate(seqs) if len(s) != len(seqs[0]))
        raise GenoattnError(
            f"sequences have unequal lengths ({ids[0]!r}: {len(seqs[0])}, {ids[i]!r}: "
            f"{len(seqs[i])}); an alignment is required",
            path,
        )
    uniq, counts = np.unique(np.asarray(ids), return_counts=True)
    if (counts > 1).any():
        raise GenoattnError(f"duplicate record IDs {uniq[counts > 1][:5].tolist()}", path)
    arr = np.frombuffer(b"".join(seqs), dtype=np.uint8).reshape(len(seqs), -1)  # (n, l)
    if arr.shape[1] == 0:
        raise GenoattnError("sequences are empty", path)
    chars = {chr(c) for c in np.unique(arr).tolist()}
    name = alphabet or infer_alphabet(chars)
    if name is None:
        bad = sorted(chars - set("".join(ALPHABETS["protein"])))
        raise GenoattnError(f"invalid characters {bad} (not DNA, RNA or protein)", path)
    residues, missing = ALPHABETS[name]
    bad = sorted(chars - set(residues + missing))
    if bad:
        raise GenoattnError(f"invalid characters {bad} for alphabet {name!r}", path)
    states, labels = encode_columns(arr, missing)
    l = arr.shape[1]
    counts_ref = [_ref_alt(arr[:, j], lab) for j, lab in enumerate(labels)]
    loci = make_loci(
        [name] * l,
        range(1, l + 1),
        [f"col{p}" for p in range(1, l + 1)],
        [r for r, _ in counts_ref],
        [a for _, a in counts_ref],
        labels,
    )
    return Cohort(states, loci, np.asarray(ids, dtype=object), SEQUENCE)


def encode_columns(arr: np.ndarray, missing: str) -> tuple[np.ndarray, list[list[str]]]:
    """Encode an alignment.

    Args:
        arr: shape (n, l), uint8, ASCII residue codes.
        missing: characters that mean a missing call.

    Returns:
        states: shape (n, l), int8, rank of the residue among the column's observed residues.
        labels: per column, the observed residues in sorted order.
    """
    n, l = arr.shape
    codes = np.unique(arr)
    codes = codes[~np.isin(codes, np.frombuffer(missing.encode(), np.uint8))]  # sorted residues
    present = np.zeros((len(codes), l), dtype=bool)  # (k, l): residue k occurs in column j
    for k, c in enumerate(codes):
        present[k] = (arr == c).any(axis=0)
    rank = (np.cumsum(present, axis=0) - 1).astype(np.int8)  # (k, l): state of residue k
    row = np.full(256, -1, dtype=np.int16)
    row[codes] = np.arange(len(codes))
    r = row[arr]  # (n, l), -1 = missing character
    states = np.where(r >= 0, rank[np.maximum(r, 0), np.arange(l)[None, :]], MISSING)
    states = states.astype(np.int8)
    labels = [[chr(c) for c in codes[present[:, j].astype(bool)]] for j in range(l)]
    return np.ascontiguousarray(states), labels


def _ref_alt(col: np.ndarray, labels: list[str]) -> tuple[str, str]:
    if not labels:
        return ".", "."
    counts = [int((col == ord(c)).sum()) for c in labels]
    ref = labels[int(np.argmax(counts))]  # argmax takes the first of tied maxima (sorted order)
    return ref, ",".join(c for c in labels if c != ref) or "."


def write_fasta(cohort: Cohort, path: str | Path) -> None:
    """Write a sequence cohort as an aligned FASTA (atomically); missing is 'X' for proteins and
    'N' otherwise, so :func:`read_fasta` gives back the same states and labels."""
    if cohort.kind != SEQUENCE:
        raise ValueError("write_fasta needs a sequence cohort")
    labels = cohort.loci["states"].to_list()
    chars = {c for lab in labels for c in lab}
    miss = "N" if (infer_alphabet(chars) or "protein") in ("dna", "rna") else "X"
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            for i, sid in enumerate(cohort.samples):
                row = cohort.states[i]
                seq = "".join(
                    miss if s == MISSING else lab[s] for s, lab in zip(row, labels, strict=True)
                )
                f.write(f">{sid}\n")
                for k in range(0, len(seq), 80):
                    f.write(seq[k : k + 80] + "\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise

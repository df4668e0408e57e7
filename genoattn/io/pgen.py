"""PLINK 2 binary reader (.pgen/.pvar/.psam) through pgenlib (imported lazily: ``genoattn[pgen]``).

Axis legend: n samples, l loci, m loci of one block.

Coding: the calls are read as allele indices (0 = REF, 1.. = ALT, as in the .pvar) and encoded by
the VCF reader's own :func:`genoattn.io.vcf.encode_gt_chunk`, so a fileset written by
``plink2 --vcf x.vcf.gz --make-pgen`` gives the same states, labels and loci as
:func:`genoattn.io.vcf.read_vcf` of the VCF: biallelic sites as ALT dosage 0/1/2, multi-allelic
sites as the genotype classes present (``a/b``). Sample IDs are the .psam IIDs. An ID of '.'
becomes CHROM:POS:REF:ALT, as in the VCF reader.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from genoattn.contract import MISSING, Cohort, make_loci
from genoattn.errors import GenoattnError, require_file

_BLOCK = 4096  # variants per read: the int32 allele buffer is 8 bytes per call
_PGEN_MISSING = -9


def _prefix(prefix: str | Path) -> Path:
    p = Path(prefix)
    return p.with_suffix("") if p.suffix in (".pgen", ".pvar", ".psam") else p


def pfile_paths(prefix: str | Path) -> tuple[Path, Path, Path]:
    """``prefix.pgen``, ``prefix.pvar``, ``prefix.psam`` (a trailing extension is stripped)."""
    base = _prefix(prefix)
    return tuple(base.with_name(base.name + s) for s in (".pgen", ".pvar", ".psam"))  # type: ignore[return-value]


def read_psam(path: Path) -> np.ndarray:
    """IIDs of a .psam (header ``#FID IID ...`` or ``#IID ...``) or headerless .fam-like file."""
    lines = [ln.split() for ln in path.read_text().splitlines() if ln.strip()]
    lines = [ln for ln in lines if not ln[0].startswith("##")]
    if not lines:
        raise GenoattnError("no samples", path)
    head = lines[0]
    if head[0].startswith("#"):
        cols = [head[0][1:], *head[1:]]
        if "IID" not in cols:
            raise GenoattnError(f"no IID column in the header {head}", path)
        j = cols.index("IID")
        rows = lines[1:]
    else:
        j, rows = 1, lines  # .fam layout: FID IID ...
    if any(len(r) <= j for r in rows):
        raise GenoattnError("a sample line has fewer columns than the header", path)
    iid = np.asarray([r[j] for r in rows], dtype=object)
    uniq, counts = np.unique(iid.astype(str), return_counts=True)
    if (counts > 1).any():
        raise GenoattnError(f"duplicate sample IDs (IID) {uniq[counts > 1][:5].tolist()}", path)
    return iid


def _pvar(path: Path):
    """(chrom, pos, id, ref, alt, allele offsets) of a .pvar, through pgenlib's parser."""
    import pgenlib

    try:
        pv = pgenlib.PvarReader(str(path).encode())
    except RuntimeError as e:
        raise GenoattnError(f"cannot read .pvar ({str(e).strip()})", path) from None
    l = pv.get_variant_ct()
    chrom, pos, ids, ref, alt = [], [], [], [], []
    for v in range(l):
        alleles = [pv.get_allele_code(v, a).decode() for a in range(pv.get_allele_ct(v))]
        c, p = pv.get_variant_chrom(v).decode(), int(pv.get_variant_pos(v))
        a = ",".join(alleles[1:]) or "."
        i = pv.get_variant_id(v).decode()
        chrom.append(c)
        pos.append(p)
        ids.append(f"{c}:{p}:{alleles[0]}:{a}" if i == "." else i)
        ref.append(alleles[0])
        alt.append(a)
    offsets = np.asarray(pv.get_allele_idx_offsets(), dtype=np.uintp)
    pv.close()
    return chrom, pos, ids, ref, alt, offsets


def read_pgen(prefix: str | Path) -> Cohort:
    """Read ``prefix.pgen/.pvar/.psam`` into a genotype :class:`Cohort`.

    Returns:
        Cohort with states shape (n, l) int8 (ALT dosage, or genotype class at multi-allelic
        sites), ``MISSING`` where not called; loci with the .pvar's CHROM/POS/ID/REF/ALT.

    Raises:
        GenoattnError: missing/empty files, an unreadable fileset, duplicate IIDs, no variants.
    """
    try:
        import pgenlib
    except ImportError:
        raise GenoattnError(
            "reading --pfile needs pgenlib: pip install 'genoattn[pgen]'", str(prefix)
        ) from None
    from genoattn.io.vcf import encode_gt_chunk

    pgen, pvar, psam = pfile_paths(prefix)
    for p in (pgen, pvar, psam):
        require_file(p)
    iid = read_psam(psam)
    chrom, pos, ids, ref, alt, offsets = _pvar(pvar)
    l, n = len(ids), len(iid)
    if l == 0:
        raise GenoattnError(".pvar has no variants", pvar)
    n_alt = np.asarray([0 if a == "." else a.count(",") + 1 for a in alt], dtype=np.int64)
    try:
        kw = {"allele_idx_offsets": offsets} if (n_alt > 1).any() else {}
        reader = pgenlib.PgenReader(str(pgen).encode(), raw_sample_ct=n, variant_ct=l, **kw)
        states = np.empty((n, l), dtype=np.int8)
        labels: list[list[str]] = []
        for j in range(0, l, _BLOCK):
            m = min(_BLOCK, l - j)
            buf = np.empty((m, 2 * n), dtype=np.int32)
            reader.read_alleles_range(j, j + m, buf)
            gt = buf.reshape(m, n, 2)  # (m, n, 2) allele indices
            gt[gt == _PGEN_MISSING] = -1
            block, lab = encode_gt_chunk(gt, n_alt[j : j + m])
            states[:, j : j + m] = block.T
            labels.extend(lab)
        reader.close()
    except (RuntimeError, ValueError) as e:
        raise GenoattnError(f"cannot read PLINK 2 fileset ({str(e).strip()})", pgen) from None
    assert MISSING == -1
    return Cohort(states, make_loci(chrom, pos, ids, ref, alt, labels), iid)

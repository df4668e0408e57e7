"""PLINK 1 binary reader (.bed/.bim/.fam) through bed-reader.

Axis legend: n samples, l loci.

Coding: the state is the count of the .bim A1 allele (bed-reader ``count_A1=True``), REF = A2 and
ALT = A1. This matches ``plink1.9 --vcf x.vcf.gz --keep-allele-order --make-bed`` (which writes
REF as A2 and ALT as A1), so such a .bed gives the same states and loci as :func:`read_vcf` of the
VCF, provided the VCF uses PLINK's chromosome codes (plink1.9 renames e.g. ``chr1`` to ``1`` and
``X`` to ``23``). Sample IDs are the .fam IIDs. An ID of '.' becomes CHROM:POS:REF:ALT.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from genoattn.contract import MISSING, Cohort, make_loci
from genoattn.errors import GenoattnError, require_file

_LABELS = ["0", "1", "2"]
_BED_MISSING = -127  # bed-reader's int8 missing value
_BLOCK = 10_000  # loci read per call, bounding the temporary int8 buffer


def _prefix(prefix: str | Path) -> Path:
    p = Path(prefix)
    return p.with_suffix("") if p.suffix in (".bed", ".bim", ".fam") else p


def read_bed(prefix: str | Path) -> Cohort:
    """Read ``prefix.bed/.bim/.fam`` into a genotype :class:`Cohort`.

    Args:
        prefix: path without extension (a trailing .bed/.bim/.fam is accepted and stripped).

    Returns:
        Cohort with states shape (n, l) int8 = A1 (ALT) dosage, ``MISSING`` where not called.

    Raises:
        GenoattnError: a missing/empty file, a malformed .bim/.fam/.bed, duplicate IIDs.
    """
    from bed_reader import open_bed

    base = _prefix(prefix)
    bed_path, bim_path, fam_path = (base.with_name(base.name + s) for s in (".bed", ".bim", ".fam"))
    for p in (bed_path, bim_path, fam_path):
        require_file(p)
    try:
        with open_bed(bed_path, count_A1=True, num_threads=1) as bed:
            iid = np.asarray([str(s) for s in bed.iid], dtype=object)
            chrom, sid = bed.chromosome, bed.sid
            pos, a1, a2 = bed.bp_position, bed.allele_1, bed.allele_2
            n, l = bed.iid_count, bed.sid_count
            states = np.empty((n, l), dtype=np.int8)
            for j in range(0, l, _BLOCK):
                block = bed.read(np.s_[:, j : j + _BLOCK], dtype=np.int8, order="C")
                block[block == _BED_MISSING] = MISSING
                states[:, j : j + _BLOCK] = block
    except (ValueError, OSError, RuntimeError, IndexError) as e:
        raise GenoattnError(
            f"cannot read PLINK fileset ({str(e).splitlines()[0]})", bed_path
        ) from None
    if l == 0:
        raise GenoattnError("PLINK fileset has no variants", bim_path)
    uniq, counts = np.unique(iid.astype(str), return_counts=True)
    if (counts > 1).any():
        raise GenoattnError(f"duplicate sample IDs (IID) {uniq[counts > 1][:5].tolist()}", fam_path)
    loci = make_loci(chrom, pos, sid, a2, a1, [_LABELS] * l)
    return Cohort(states, loci, iid)

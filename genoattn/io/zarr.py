"""VCF-Zarr reader: a store written by ``bio2zarr vcf2zarr convert`` (VCF Zarr spec v0.4).

Axis legend: n samples, l variants, m variants in one chunk, p ploidy, a alleles.

Fields read: ``call_genotype`` (l, n, p) int8 (-1 missing, -2 fill), ``variant_position`` (l,),
``variant_contig`` (l,) index into ``contig_id``, ``variant_allele`` (l, a) str ('' fill),
``variant_id`` (l,) str, ``sample_id`` (n,) str. Genotypes are read one variant chunk of the
store at a time and encoded exactly as the VCF reader encodes GT
(:func:`genoattn.io.vcf.encode_gt_chunk`), so a store converted from a VCF gives the same states,
loci and tokens as that VCF. ``zarr`` (>= 3) is imported lazily; install it with
``pip install 'genoattn[zarr]'``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from genoattn.contract import Cohort, make_loci
from genoattn.errors import GenoattnError

MISSING_ZARR = "reading VCF-Zarr needs zarr >= 3: pip install 'genoattn[zarr]'"
_FIELDS = (
    "call_genotype", "variant_position", "variant_contig", "contig_id", "variant_allele",
    "sample_id",
)  # fmt: skip


def _open(path: Path):
    try:
        import zarr
    except ImportError:
        raise GenoattnError(MISSING_ZARR) from None
    if not path.exists():
        raise GenoattnError("Zarr store not found", path)
    try:
        root = zarr.open_group(str(path), mode="r")
    except Exception as e:  # zarr raises several types for a folder that is not a store
        raise GenoattnError(f"not a readable Zarr store ({type(e).__name__})", path) from None
    missing = [f for f in _FIELDS if f not in root]
    if missing:
        raise GenoattnError(f"not a VCF-Zarr store: missing field(s) {missing}", path)
    return root


def _strings(arr) -> np.ndarray:
    return np.asarray([str(v) for v in np.asarray(arr[:]).ravel()], dtype=object).reshape(arr.shape)


def read_zarr(path: str | Path, progress: bool = False) -> Cohort:
    """Read a VCF-Zarr store into a genotype :class:`Cohort` (states shape (n, l) int8)."""
    from genoattn.io.vcf import MAX_ALT, _check_unique, encode_gt_chunk

    path = Path(path)
    root = _open(path)
    gt = root["call_genotype"]
    l, n, ploidy = gt.shape
    if ploidy != 2:
        raise GenoattnError(f"only diploid call_genotype is supported (ploidy {ploidy})", path)
    if l == 0 or n == 0:
        raise GenoattnError(f"VCF-Zarr store has {l} variants x {n} samples", path)
    samples = _strings(root["sample_id"])
    _check_unique(samples, path)
    contigs = _strings(root["contig_id"])
    chrom = contigs[np.asarray(root["variant_contig"][:], dtype=np.int64)]
    pos = np.asarray(root["variant_position"][:], dtype=np.int64)
    alleles = _strings(root["variant_allele"])  # (l, a)
    ids = _strings(root["variant_id"]) if "variant_id" in root else np.full(l, ".", object)
    if "variant_id_mask" in root:
        ids[np.asarray(root["variant_id_mask"][:], bool)] = "."
    present = alleles[:, 1:] != ""
    n_alt = present.sum(1)
    if (n_alt > MAX_ALT - 1).any():
        raise GenoattnError(f"a site has more than {MAX_ALT - 1} ALT alleles (unsupported)", path)
    states = np.empty((n, l), dtype=np.int8)
    labels: list[list[str]] = []
    step = gt.chunks[0]
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=l, unit="variant", desc=path.name)
    for j in range(0, l, step):
        block = np.asarray(gt[j : j + step])  # (m, n, 2) int8, -1 missing, -2 fill
        try:
            enc, lab = encode_gt_chunk(block, n_alt[j : j + step])
        except ValueError as e:
            raise GenoattnError(f"bad call_genotype near {chrom[j]}:{pos[j]}: {e}", path) from None
        states[:, j : j + len(enc)] = enc.T
        labels.extend(lab)
        if bar is not None:
            bar.update(len(enc))
    if bar is not None:
        bar.close()
    ref = alleles[:, 0]
    alt = [
        ",".join(r[1 : 1 + k]) or "." for r, k in zip(alleles.tolist(), n_alt.tolist(), strict=True)
    ]
    return Cohort(states, make_loci(chrom, pos, ids, ref, alt, labels), samples)

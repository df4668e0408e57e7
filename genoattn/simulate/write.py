"""Write a simulated cohort: bgzipped VCF 4.2, phenotype, covariates, truth and oracle tables.

Every file is written to a temporary file in its destination directory and moved into place with
``os.replace``, so a reader never sees a half-written file. Tables are tab-separated with a header
row; missing values are written ``NA``. Binary traits use PLINK's coding 1 = control, 2 = case.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import polars as pl

from genoattn.atomic import atomic_path
from genoattn.contract import MISSING, Cohort, Trait
from genoattn.errors import GenoattnError
from genoattn.simulate.cohort import SimConfig, SimulatedCohort

_LOCUS_CHUNK = 512  # loci per block of VCF text; bounds memory to ~4 bytes x samples x chunk
_BGZF_LEVEL = 1  # fastest deflate: ~5x faster than level 6 on genotype text, files ~1.6x larger


def prepare_out_dir(out_dir: str | Path) -> Path:
    """Create ``out_dir`` (and parents) and check that it is a writable directory.

    Raises:
        GenoattnError: the path is a file, cannot be created, or is not writable.
    """
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise GenoattnError("output path exists and is not a directory", out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise GenoattnError(f"cannot create output directory ({e.strerror})", out) from None
    if not os.access(out, os.W_OK | os.X_OK):
        raise GenoattnError("output directory is not writable", out)
    return out


def _vcf_header(cohort: Cohort) -> str:
    loci = cohort.loci
    contigs = loci.group_by("chrom", maintain_order=True).agg(pl.col("pos").max())
    lines = [
        "##fileformat=VCFv4.2",
        "##source=genoattn.simulate",
        *[f"##contig=<ID={c},length={p}>" for c, p in contigs.iter_rows()],
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        "\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT"])
        + "\t"
        + "\t".join(cohort.samples.tolist()),
    ]
    return "\n".join(lines) + "\n"


def _gt_block(alleles: np.ndarray, sep: int) -> np.ndarray:
    """Genotype text of a block of loci: alleles (l, n, 2) int -> bytes (l, 4n) ``a|b\\t...``.

    Allele -1 (missing) becomes '.'; the last tab of each row is replaced by a newline.
    """
    l, n, _ = alleles.shape
    txt = np.empty((l, n, 4), dtype=np.uint8)
    txt[..., 0] = np.where(alleles[..., 0] < 0, ord("."), alleles[..., 0] + ord("0"))
    txt[..., 1] = sep
    txt[..., 2] = np.where(alleles[..., 1] < 0, ord("."), alleles[..., 1] + ord("0"))
    txt[..., 3] = ord("\t")
    txt[:, -1, 3] = ord("\n")
    return txt.reshape(l, 4 * n)


def write_vcf(cohort: Cohort, haplotypes: np.ndarray | None, path: str | Path) -> Path:
    """Write a biallelic genotype cohort as bgzipped VCF 4.2 with GT only.

    Args:
        cohort: kind ``"genotype"``, biallelic loci (states = ALT dosage, ``MISSING`` allowed).
        haplotypes: shape (n, l, 2), int8, phased alleles (written ``a|b``), or None to write the
            dosages unphased (``0/0``, ``0/1``, ``1/1``, missing ``./.``).
        path: destination, conventionally ``*.vcf.gz``.
    """
    from Bio.bgzf import BgzfWriter  # heavy import kept local

    if not cohort.is_biallelic().all():
        raise GenoattnError("write_vcf writes biallelic genotype cohorts only", path)
    n, l = cohort.states.shape
    if haplotypes is not None:
        assert haplotypes.shape == (n, l, 2), (haplotypes.shape, (n, l))
    loci = cohort.loci
    prefix = [
        f"{c}\t{p}\t{i}\t{r}\t{a}\t.\tPASS\t.\tGT\t".encode()
        for c, p, i, r, a in zip(
            loci["chrom"], loci["pos"], loci["id"], loci["ref"], loci["alt"], strict=True
        )
    ]
    path = Path(path)
    with atomic_path(path) as tmp:
        with BgzfWriter(str(tmp), "wb", compresslevel=_BGZF_LEVEL) as out:
            out.write(_vcf_header(cohort).encode())
            for j0 in range(0, l, _LOCUS_CHUNK):
                j1 = min(l, j0 + _LOCUS_CHUNK)
                if haplotypes is not None:
                    alleles = haplotypes[:, j0:j1, :].transpose(1, 0, 2).astype(np.int16)
                    block = _gt_block(alleles, ord("|"))
                else:
                    st = cohort.states[:, j0:j1].T.astype(np.int16)  # (l, n)
                    alleles = np.stack([(st >= 2) * 1, (st >= 1) * 1], axis=-1)
                    alleles[st == MISSING] = -1
                    block = _gt_block(alleles, ord("/"))
                out.write(b"".join(prefix[j0 + k] + block[k].tobytes() for k in range(j1 - j0)))
    return path


def _write_table(frame: pl.DataFrame, path: str | Path) -> Path:
    path = Path(path)
    with atomic_path(path) as tmp:
        frame.write_csv(tmp, separator="\t", null_value="NA", float_precision=6)
    return path


def write_pheno(trait: Trait, path: str | Path) -> Path:
    """TSV ``FID IID <trait>``; binary traits coded 1 = control, 2 = case (PLINK); NaN -> NA."""
    values = trait.values.copy()
    col = pl.Series(trait.name, values + 1.0 if trait.binary else values).fill_nan(None)
    if trait.binary:
        col = col.cast(pl.Int64)
    ids = trait.samples.tolist()
    return _write_table(pl.DataFrame({"FID": ids, "IID": ids}).with_columns(col), path)


def write_covar(trait: Trait, path: str | Path) -> Path:
    """TSV ``FID IID <covariate...>`` (integers written without decimals)."""
    ids = trait.samples.tolist()
    cols = {}
    for name, v in zip(trait.covariate_names, trait.covariates.T, strict=True):
        whole = np.all(np.isnan(v) | (v == np.round(v)))
        cols[name] = pl.Series(name, v).fill_nan(None).cast(pl.Int64 if whole else pl.Float64)
    return _write_table(pl.DataFrame({"FID": ids, "IID": ids, **cols}), path)


def write_truth(truth: pl.DataFrame, path: str | Path) -> Path:
    """TSV of the planted terms (``TRUTH_SCHEMA`` columns)."""
    return _write_table(truth, path)


def write_genetic_value(sim: SimulatedCohort, path: str | Path) -> Path:
    """TSV ``IID genetic_value covariate_value liability <component...>`` of a SimulatedCohort.

    ``genetic_value`` is the noiseless genotype-driven signal, so the oracle R^2 of any predictor is
    computable later; one column per planted component (``additive``, ``pair1``, ...).
    """
    frame = pl.DataFrame(
        {
            "IID": sim.trait.samples.tolist(),
            "genetic_value": sim.genetic_value,
            "covariate_value": sim.covariate_value,
            "liability": sim.liability,
        }
    ).hstack(sim.components)
    return _write_table(frame, path)


def write_config(cfg: SimConfig, path: str | Path) -> Path:
    """YAML of a resolved SimConfig (reloadable with ``genoattn simulate --config``)."""
    import yaml

    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(yaml.safe_dump(dataclasses.asdict(cfg), sort_keys=False))
    return path


def write_simulation(sim: SimulatedCohort, out_dir: str | Path) -> dict[str, Path]:
    """Write every file of a SimulatedCohort into ``out_dir`` (created if needed).

    Returns:
        name -> path for ``vcf`` (cohort.vcf.gz), ``pheno`` (pheno.tsv), ``covar`` (covar.tsv, only
        with covariates), ``truth`` (truth.tsv), ``oracle`` (oracle.tsv), ``config`` (sim.yaml).
    """
    out = prepare_out_dir(out_dir)
    written = {
        "vcf": write_vcf(sim.cohort, sim.haplotypes, out / "cohort.vcf.gz"),
        "pheno": write_pheno(sim.trait, out / "pheno.tsv"),
    }
    if sim.trait.covariates.shape[1]:
        written["covar"] = write_covar(sim.trait, out / "covar.tsv")
    written["truth"] = write_truth(sim.truth, out / "truth.tsv")
    written["oracle"] = write_genetic_value(sim, out / "oracle.tsv")
    written["config"] = write_config(sim.config, out / "sim.yaml")
    return written

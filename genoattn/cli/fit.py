"""``genoattn fit`` and ``genoattn predict``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from genoattn.cli import options as o


def fit(
    out: Annotated[
        Path, typer.Option(help="Run directory to create (checkpoint, config, metrics, split).")
    ],
    vcf: o.Vcf = None,
    bfile: o.Bfile = None,
    zarr: o.Zarr = None,
    fasta: o.Fasta = None,
    pheno: o.Pheno = None,
    trait: o.Trait = None,
    covar: o.Covar = None,
    alphabet: o.Alphabet = None,
    model: Annotated[
        o.ModelKind | None,
        typer.Option(
            help="sa: linear self-attention (SA_lin); hfa: "
            "HyperFeatureAttention; ha: HyperAttention; "
            "rfa: random-feature attention; additive: "
            "baseline. Default: the config's, else "
            "chosen by --fit auto."
        ),
    ] = None,
    method: Annotated[
        o.FitMethod | None,
        typer.Option(
            "--fit",
            help="auto (the default when neither --model nor --fit is given): fit the "
            "candidate models of genoattn/system/choose.py and keep the lowest validation "
            "loss; sparse: convex group-lasso fit of the attention invariant with screening "
            "and validation-chosen penalties (sa, ha, additive; the default for --model sa, ha, "
            "additive); sgd: Lightning/AdamW with early stopping (all models); ridge: closed "
            "form (rfa).",
        ),
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            help="YAML preset with data / model / train "
            "sections (configs/*.yaml); command-line "
            "inputs override its data section."
        ),
    ] = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the split and the model.")] = None,
    test_fraction: Annotated[
        float | None,
        typer.Option(
            help="Share of the samples held out for testing (metrics and export's held-out "
            "confirmation; more test samples = more power). Default: the config's, else 0.15."
        ),
    ] = None,
    val_fraction: Annotated[
        float | None,
        typer.Option(
            help="Share of the samples used for validation (penalty choice, early stopping). "
            "Default: the config's, else 0.15."
        ),
    ] = None,
    maf: o.Maf = 0.0,
    geno: o.Geno = 1.0,
    mind: o.Mind = 1.0,
    resume: Annotated[
        bool,
        typer.Option(
            help="Continue an interrupted sgd fit from OUT.partial/checkpoints/last.ckpt."
        ),
    ] = False,
    overwrite: Annotated[bool, typer.Option(help="Replace OUT if it exists.")] = False,
    cv_folds: Annotated[
        int | None,
        typer.Option(
            min=2,
            help="Sparse fits: choose every penalty by K-fold cross-validation "
            "on the non-test samples (sparse.selection: cv), K = this.",
        ),
    ] = None,
    progress: o.Progress = True,
    pfile: o.Pfile = None,
    cache_dir: o.CacheDir = None,
) -> None:
    """Train an attention model on a phenotype and write the run directory."""
    from genoattn.config import fit_config, load_yaml
    from genoattn.data.load import load_dataset
    from genoattn.io.table import read_trait
    from genoattn.system.fit import fit as fit_run
    from genoattn.system.resources import Resources
    from genoattn.system.rundir import check_destination

    res = Resources()
    data = o.data_config(
        vcf, bfile, fasta, pheno, trait, covar, alphabet, maf, geno, mind,
        pfile=pfile, cache_dir=cache_dir, zarr=zarr,
    )  # fmt: skip
    train = {"seed": seed, "test_fraction": test_fraction, "val_fraction": val_fraction}
    cfg = fit_config(
        load_yaml(config) if config else {}, data, model, method, train, progress, cv_folds
    )
    # cheap mistakes first: the destination, the trait and covariate columns (genotypes are slow)
    check_destination(out, overwrite)
    read_trait(cfg.data.pheno, cfg.data.trait, cfg.data.covar)
    with res.stage("load"):
        ds = load_dataset(cfg.data, progress=progress, log=typer.echo)
    result = fit_run(
        ds, cfg, out, overwrite=overwrite, resume=resume, log=typer.echo, resources=res
    )
    if result is None:  # a DDP worker (rank > 0): rank 0 reports and writes the run
        return
    typer.echo(result.summary())
    typer.echo(f"fit: wrote {out}/ ({res.summary()})")


def predict(
    run: Annotated[Path, typer.Argument(help="Run directory written by `genoattn fit`.")],
    out: Annotated[
        Path,
        typer.Option(
            help="Predictions table, TSV with columns FID IID PRED: PRED in trait units, or the "
            "case probability for a case/control trait."
        ),
    ],
    vcf: o.Vcf = None,
    bfile: o.Bfile = None,
    zarr: o.Zarr = None,
    fasta: o.Fasta = None,
    covar: o.Covar = None,
    no_covar: Annotated[
        bool,
        typer.Option(
            "--no-covar",
            help="For a run fit with covariates: predict without --covar, every covariate at "
            "its training mean.",
        ),
    ] = False,
    alphabet: o.Alphabet = None,
    progress: o.Progress = True,
    pfile: o.Pfile = None,
) -> None:
    """Predict the trait of new samples (genotypes or aligned sequences) with a fitted run.

    No QC is applied and no run locus is dropped: loci and states the run does not know count as
    missing (see the log line). Sequence loci are matched by alignment column.
    """
    from genoattn.interpret.table import write_table
    from genoattn.system.predict import predict_inputs
    from genoattn.system.rundir import load_run

    r = load_run(run)
    data = o.data_config(
        vcf, bfile, fasta, None, None, None, alphabet, 0.0, 1.0, 1.0, need_pheno=False,
        pfile=pfile, zarr=zarr,
    )  # fmt: skip
    table = predict_inputs(r, data, covar, no_covar, progress=progress, log=typer.echo)
    write_table(table, out)
    typer.echo(f"predict: wrote {table.height} predictions to {out}")

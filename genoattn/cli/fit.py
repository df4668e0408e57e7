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
    from genoattn.config import load_yaml
    from genoattn.data.load import load_dataset
    from genoattn.io.table import read_trait
    from genoattn.system.fit import fit as fit_run
    from genoattn.system.resources import Resources
    from genoattn.system.rundir import check_destination

    res = Resources()
    raw = load_yaml(config) if config else {}
    data = o.data_config(
        vcf, bfile, fasta, pheno, trait, covar, alphabet, maf, geno, mind,
        pfile=pfile, cache_dir=cache_dir, zarr=zarr,
    )  # fmt: skip
    overrides = {"seed": seed, "test_fraction": test_fraction, "val_fraction": val_fraction}
    cfg = _fit_config(raw, data, model, method, overrides, progress)
    if cv_folds:
        cfg.model.sparse.selection, cfg.model.sparse.cv_folds = "cv", cv_folds
    # cheap mistakes first: the destination, the trait and covariate columns (genotypes are slow)
    check_destination(out, overwrite)
    read_trait(cfg.data.pheno, cfg.data.trait, cfg.data.covar)
    with res.stage("load"):
        ds = load_dataset(cfg.data, progress=progress, log=typer.echo)
    result = fit_run(
        ds, cfg, out, overwrite=overwrite, resume=resume, log=typer.echo, resources=res
    )
    if not result:  # a DDP worker (rank > 0): rank 0 reports and writes the run
        return
    typer.echo(_summary(result))
    typer.echo(f"fit: wrote {out}/ ({res.summary()})")


def _fit_config(raw: dict, data, model, method, train_overrides: dict, progress: bool):
    """The FitConfig of the command: the YAML's sections with the command-line options on top."""
    from genoattn.config import FitConfig, from_dict, to_dict

    raw_model = dict(raw.get("model") or {})
    if model is not None:
        raw_model["kind"] = model.value
    if method is not None:
        raw_model["fit"] = method.value
    elif "fit" not in raw_model:  # no model chosen: auto; a kind alone: its usual route
        kind = raw_model.get("kind")
        raw_model["fit"] = (
            "auto" if kind is None else {"hfa": "sgd", "rfa": "ridge"}.get(kind, "sparse")
        )
    raw_model.setdefault("kind", "sa")
    raw_train = dict(raw.get("train") or {})
    raw_train.update({k: v for k, v in train_overrides.items() if v is not None})
    raw_train.setdefault("progress", progress)
    return from_dict(
        FitConfig,
        {
            "data": {
                **to_dict(data),
                "cache_dir": data.cache_dir or (raw.get("data") or {}).get("cache_dir"),
            },
            "model": raw_model,
            "train": raw_train,
        },
    )


def _summary(result: dict) -> str:
    def fmt(m: dict) -> str:
        keys = [k for k in ("r2", "pearson", "auc") if k in m]
        return ", ".join(f"{k} {m[k]:.3f}" for k in keys)

    parts = [f"{result['model']} ({result['fit']}, {result['seconds']:.1f} s)"]
    for split in ("train", "val", "test"):
        if split in result:
            parts.append(f"{split}: {fmt(result[split])}")
    if "additive" in result and "test" in result["additive"]:
        parts.append(f"additive baseline test: {fmt(result['additive']['test'])}")
    if "auto" in result:
        from genoattn.system.choose import summary

        parts.append(summary(result))
    return " | ".join(parts)


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
) -> None:
    """Predict the trait of new samples (genotypes or aligned sequences) with a fitted run.

    No QC is applied and no run locus is dropped: loci and states the run does not know count as
    missing (see the log line). Sequence loci are matched by alignment column.
    """
    from genoattn.config import QCConfig
    from genoattn.data.load import load_genotypes
    from genoattn.interpret.table import write_table
    from genoattn.system.predict import predict_cohort, prediction_table, run_alphabet
    from genoattn.system.rundir import load_run

    r = load_run(run)
    data = o.data_config(
        vcf, bfile, fasta, None, None, None, alphabet, 0.0, 1.0, 1.0, need_pheno=False, zarr=zarr
    )
    data.qc = QCConfig(drop_monomorphic=False)  # predict never filters loci or samples
    if fasta is not None and alphabet is None:
        data.alphabet = run_alphabet(r)  # read the file as the run's alphabet, not re-inferred
    cohort = load_genotypes(data, progress=progress, log=typer.echo)
    cov = None
    if covar is not None and r.info["covariates"]:
        from genoattn.io.table import read_covariates

        cov = read_covariates(covar, list(r.info["covariates"]), cohort.samples)[0]
    label = str(vcf or bfile or fasta)
    pred = predict_cohort(r, cohort, label, cov, log=typer.echo, training_means=no_covar)
    fids = None
    if bfile is not None:
        from genoattn.system.predict import family_ids

        fids = family_ids(bfile, cohort.samples)
    table = prediction_table(cohort.samples, pred, fids)
    write_table(table, out)
    typer.echo(f"predict: wrote {table.height} predictions to {out}")

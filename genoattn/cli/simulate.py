"""``genoattn simulate``: write a seeded cohort with planted epistasis (VCF, phenotype, truth)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from genoattn.config import from_dict, load_yaml
from genoattn.simulate import SimConfig, write_simulation
from genoattn.simulate import simulate as run_simulation
from genoattn.simulate.write import prepare_out_dir

_D = SimConfig()


def _default(name: str) -> str:
    value = getattr(_D, name)
    if isinstance(value, list):
        value = ",".join(value) or "none"
    return f"[default: {value}]"


def simulate(
    out: Annotated[
        Path,
        typer.Option(
            "--out",
            help="Output directory (created if needed): cohort.vcf.gz, pheno.tsv, covar.tsv, "
            "truth.tsv, oracle.tsv, sim.yaml.",
        ),
    ],
    samples: Annotated[
        int | None, typer.Option("--samples", help=f"Number of samples. {_default('n_samples')}")
    ] = None,
    loci: Annotated[
        int | None, typer.Option("--loci", help=f"Number of loci. {_default('n_loci')}")
    ] = None,
    chromosomes: Annotated[
        int | None,
        typer.Option("--chromosomes", help=f"Number of chromosomes. {_default('n_chrom')}"),
    ] = None,
    pairs: Annotated[
        str | None,
        typer.Option(
            "--pairs",
            help="Comma-separated kinds of planted pairs, from product, dominance, pure "
            f"('none' for no pairs). {_default('pairs')}",
        ),
    ] = None,
    triples: Annotated[
        str | None,
        typer.Option(
            "--triples",
            help=f"Comma-separated kinds of planted 3-way terms. {_default('triples')}",
        ),
    ] = None,
    h2_pair: Annotated[
        float | None,
        typer.Option("--h2-pair", help=f"Variance share of each pair. {_default('h2_pair')}"),
    ] = None,
    h2_triple: Annotated[
        float | None,
        typer.Option(
            "--h2-triple", help=f"Variance share of each 3-way term. {_default('h2_triple')}"
        ),
    ] = None,
    triple_lower: Annotated[
        str | None,
        typer.Option(
            "--triple-lower",
            help="keep: product/dominance triples keep their main and pairwise projections; "
            "project: every triple is reduced to its pure 3-way part (no pairwise trace). "
            f"{_default('triple_lower')}",
        ),
    ] = None,
    additive: Annotated[
        int | None,
        typer.Option(
            "--additive",
            help=f"Number of additive (marginal) causal loci. {_default('n_additive')}",
        ),
    ] = None,
    h2_additive: Annotated[
        float | None,
        typer.Option(
            "--h2-additive",
            help=f"Variance share of all additive loci together. {_default('h2_additive')}",
        ),
    ] = None,
    binary: Annotated[
        bool | None,
        typer.Option(
            "--binary/--quantitative",
            help="Case/control trait by a liability threshold, or a quantitative trait. "
            "[default: quantitative]",
            show_default=False,
        ),
    ] = None,
    prevalence: Annotated[
        float | None,
        typer.Option(
            "--prevalence", help=f"Fraction of cases of a binary trait. {_default('prevalence')}"
        ),
    ] = None,
    covariates: Annotated[
        bool | None,
        typer.Option(
            "--covariates/--no-covariates",
            help="Simulate covariates age and sex with small effects. [default: covariates]",
            show_default=False,
        ),
    ] = None,
    seed: Annotated[
        int | None, typer.Option("--seed", help=f"Random seed. {_default('seed')}")
    ] = None,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="YAML file whose keys are SimConfig fields (e.g. n_samples, maf_min, switch_rate);"
            " options given on the command line override it.",
        ),
    ] = None,
) -> None:
    """Simulate genotypes with LD and a phenotype with planted pairwise and 3-way interactions."""
    settings = load_yaml(config) if config is not None else {}
    given = {
        "n_samples": samples,
        "n_loci": loci,
        "n_chrom": chromosomes,
        "pairs": pairs,
        "triples": triples,
        "h2_pair": h2_pair,
        "h2_triple": h2_triple,
        "triple_lower": triple_lower,
        "n_additive": additive,
        "h2_additive": h2_additive,
        "binary": binary,
        "prevalence": prevalence,
        "covariates": covariates,
        "seed": seed,
    }
    settings.update({k: v for k, v in given.items() if v is not None})
    cfg = from_dict(SimConfig, settings)
    prepare_out_dir(out)  # fail before the work if the output cannot be written
    sim = run_simulation(cfg)
    written = write_simulation(sim, out)
    kind = f"binary (prevalence {cfg.prevalence})" if cfg.binary else "quantitative"
    typer.echo(
        f"simulated {cfg.n_samples} samples x {cfg.n_loci} loci on {cfg.n_chrom} chromosome(s), "
        f"{len(cfg.pairs)} pair(s), {len(cfg.triples)} triple(s), {kind} trait, seed {cfg.seed}"
    )
    for path in written.values():
        typer.echo(f"  wrote {path}")

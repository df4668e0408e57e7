"""``genoattn bench NAME``: run a built-in validation benchmark and print its table."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated

import typer


class BenchName(str, Enum):
    colliding_agents = "colliding-agents"
    genotype = "genotype"
    lm = "lm"
    random_features = "random-features"
    all = "all"


def _genotype(quick: bool, out_dir: Path, seed: int) -> dict:
    """Both parts of the genotype benchmark; returns the cohort record with both tables."""
    from genoattn.bench import run_activation
    from genoattn.bench.cohort import run_cohort

    act = run_activation(quick, out_dir / "activation", seed)
    coh = run_cohort(quick, out_dir / "cohort", seed)
    return {**coh, "table": f"### activation\n\n{act['table']}\n\n### cohort\n\n{coh['table']}"}


def bench(
    name: Annotated[BenchName, typer.Argument(help="Benchmark to run, or 'all'.")],
    quick: Annotated[
        bool, typer.Option("--quick", help="Small settings (well under a minute each).")
    ] = False,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Output folder (default bench_results/<name>)."),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
    text: Annotated[
        Path | None,
        typer.Option(
            "--text", help="lm only: train on this text file instead of the stdlib corpus."
        ),
    ] = None,
) -> None:
    """Reproduce the papers' experiments; writes results.json, table.md and PNG plots."""
    from genoattn.bench import run_colliding, run_lm, run_random_features

    runners = {
        BenchName.colliding_agents: lambda d: run_colliding(quick, d, seed),
        # 2(a), the paper's activation task, then 2(b), simulated cohorts
        BenchName.genotype: lambda d: _genotype(quick, d, seed),
        BenchName.lm: lambda d: run_lm(quick, d, seed, text),
        BenchName.random_features: lambda d: run_random_features(quick, d, seed),
    }
    names = [n for n in BenchName if n is not BenchName.all] if name is BenchName.all else [name]
    root = Path("bench_results") if out is None else out
    for n in names:
        out_dir = root / n.value if (out is None or name is BenchName.all) else root
        record = runners[n](out_dir)
        typer.echo(f"## {n.value} ({out_dir})\n\n{record['table']}")

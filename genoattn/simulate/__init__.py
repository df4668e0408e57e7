"""Seeded cohort simulator: genotypes with LD, planted epistasis, truth tables, file writers."""

from genoattn.simulate.cohort import TRUTH_SCHEMA, SimConfig, SimulatedCohort, simulate
from genoattn.simulate.genotypes import SimulatedGenotypes, simulate_genotypes
from genoattn.simulate.phenotype import KINDS, fanova_residual, raw_term
from genoattn.simulate.write import (
    write_covar,
    write_genetic_value,
    write_pheno,
    write_simulation,
    write_truth,
    write_vcf,
)

__all__ = [
    "KINDS",
    "TRUTH_SCHEMA",
    "SimConfig",
    "SimulatedCohort",
    "SimulatedGenotypes",
    "fanova_residual",
    "raw_term",
    "simulate",
    "simulate_genotypes",
    "write_covar",
    "write_genetic_value",
    "write_pheno",
    "write_simulation",
    "write_truth",
    "write_vcf",
]

"""Validation benchmarks that reproduce the papers' experiments (``genoattn bench NAME``)."""

from genoattn.bench.activation import run_activation
from genoattn.bench.colliding import run_colliding
from genoattn.bench.lm import run_lm
from genoattn.bench.random_features import run_random_features

__all__ = ["run_activation", "run_colliding", "run_lm", "run_random_features"]

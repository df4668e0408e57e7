"""Validation benchmarks that reproduce the papers' experiments (``genoattn bench NAME``)."""

from genoattn.bench.colliding import run_colliding

__all__ = ["run_colliding"]

"""Pure statistical kernels on torch tensors (no imports from system, interpret or cli)."""

from genoattn.stats.candidates import candidate_triples, classes_from_contrasts
from genoattn.stats.fit3 import exact_stats, genotype_fast, product_fast
from genoattn.stats.scan3 import (
    Prepared3,
    exhaustive_triples,
    prepare_triples,
    rescore,
    scan_triple_tile,
    scan_triples,
    screen_all,
    triple_tiles,
)

__all__ = [
    "Prepared3",
    "candidate_triples",
    "classes_from_contrasts",
    "exact_stats",
    "exhaustive_triples",
    "genotype_fast",
    "prepare_triples",
    "product_fast",
    "rescore",
    "scan_triple_tile",
    "scan_triples",
    "screen_all",
    "triple_tiles",
]

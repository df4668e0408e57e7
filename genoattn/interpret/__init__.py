"""Interpretation: interaction scans, held-out confirmation, LD clumping and interaction tables."""

from genoattn.interpret.clump import clump, ld_r2
from genoattn.interpret.confirm import confirm, confirm_pairs, confirm_triples
from genoattn.interpret.scan import scan, scan_pairs
from genoattn.interpret.table import locus_columns, pair_table, triple_table, write_table

__all__ = [
    "clump",
    "confirm",
    "confirm_pairs",
    "confirm_triples",
    "ld_r2",
    "locus_columns",
    "pair_table",
    "scan",
    "scan_pairs",
    "triple_table",
    "write_table",
]

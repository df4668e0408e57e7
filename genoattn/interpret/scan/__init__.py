"""Exhaustive pairwise interaction scan: deterministic tiles of matrix products.

``kernels`` (statistics from weighted genotype-cell sums), ``fast`` (the product test without
missing calls), ``inputs`` (prepared inputs, genotypes by file), ``tiles`` (the tile grid and the
merge of tile results), ``engine`` (scan, scan_pairs), ``shards`` (partial tables and their
merge), ``distributed`` (tiles as Dask tasks).
"""

from genoattn.interpret.scan.engine import ScanRun, run_scan, scan, scan_pairs
from genoattn.interpret.scan.kernels import TESTS, check_test, pinv_psd

__all__ = ["TESTS", "ScanRun", "check_test", "pinv_psd", "run_scan", "scan", "scan_pairs"]

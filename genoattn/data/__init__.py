"""Sample alignment and dataset loading."""

from genoattn.data.align import AlignReport, align
from genoattn.data.load import load_dataset, load_genotypes

__all__ = ["AlignReport", "align", "load_dataset", "load_genotypes"]

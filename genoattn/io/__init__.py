"""One thin reader per input format; each converts into :mod:`genoattn.contract`."""

from genoattn.io.fasta import read_fasta, write_fasta
from genoattn.io.plink import read_bed
from genoattn.io.table import read_trait
from genoattn.io.vcf import read_vcf

__all__ = ["read_bed", "read_fasta", "read_trait", "read_vcf", "write_fasta"]

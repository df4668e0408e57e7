"""genoattn: attention models that learn allele interactions (epistasis) from genotypes."""

from genoattn.contract import MISSING, PAD_TOKEN, Cohort, Dataset, Trait
from genoattn.errors import GenoattnError

__all__ = ["MISSING", "PAD_TOKEN", "Cohort", "Dataset", "GenoattnError", "Trait"]
__version__ = "0.1.0"

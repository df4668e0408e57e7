"""Quality control and the on-disk cache of encoded cohorts."""

from genoattn.encode.cache import load_cohort
from genoattn.encode.qc import QCReport, apply_qc, qc_masks

__all__ = ["QCReport", "apply_qc", "load_cohort", "qc_masks"]

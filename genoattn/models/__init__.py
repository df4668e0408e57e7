"""Attention models over entity tokens: pure kernels (``kernels``) and thin modules."""

from genoattn.models.additive import Additive
from genoattn.models.ha import HyperAttention, HyperAttentionBlock
from genoattn.models.hfa import HyperFeatureAttention, HyperFeatureAttentionBlock
from genoattn.models.kernels import (
    hadamard_attention,
    hyper_attention,
    linear_attention,
    rfa_features,
    sa_lin_cohort_factorised,
    sa_lin_cohort_full,
    sa_lin_entities,
    softmax_attention,
)
from genoattn.models.rfa import RandomFeatureAttention
from genoattn.models.sa import SALin, SoftmaxAttentionBlock

__all__ = [
    "Additive",
    "HyperAttention",
    "HyperAttentionBlock",
    "HyperFeatureAttention",
    "HyperFeatureAttentionBlock",
    "RandomFeatureAttention",
    "SALin",
    "SoftmaxAttentionBlock",
    "hadamard_attention",
    "hyper_attention",
    "linear_attention",
    "rfa_features",
    "sa_lin_cohort_factorised",
    "sa_lin_cohort_full",
    "sa_lin_entities",
    "softmax_attention",
]

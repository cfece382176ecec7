from .norm import KNOWN_NORMS, GroupNormFactory, GroupNormSpec, norm_from_config
from .weight_standardization import (
    WeightStandardizedConv2d,
    standardize_conv_weights,
    standardize_weight,
)

__all__ = ["KNOWN_NORMS", "GroupNormFactory", "GroupNormSpec", "WeightStandardizedConv2d",
           "norm_from_config", "standardize_conv_weights", "standardize_weight"]

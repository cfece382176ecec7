from .norm import KNOWN_NORMS, GroupNormFactory, GroupNormSpec, norm_from_config
from .weight_standardization import (
    WeightStandardizedConv2d,
    standardize_conv_weights,
    standardize_weight,
)

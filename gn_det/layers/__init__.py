from .fused_conv import FusedConv2d, FusedWeightStandardizedConv2d, fuse_conv
from .fused_norm import group_norm_act
from .module_class import convert_class
from .norm import KNOWN_NORMS, GroupNormFactory, GroupNormSpec, norm_from_config
from .weight_standardization import (
    WeightStandardizedConv2d,
    standardize_conv_weights,
    standardize_weight,
)

__all__ = ["KNOWN_NORMS", "FusedConv2d", "FusedWeightStandardizedConv2d", "GroupNormFactory",
           "GroupNormSpec", "WeightStandardizedConv2d", "convert_class", "fuse_conv",
           "group_norm_act", "norm_from_config", "standardize_conv_weights", "standardize_weight"]

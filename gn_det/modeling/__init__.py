# Importing these modules registers gn_det's components in detectron2's registries.
from . import backbone, roi_heads  # noqa: F401  (registration)
from .backbone import build_gn_det_resnet
from .fast_path import FastPathOptions, build_model, convert_to_fast_path
from .roi_heads import GNDetConvFCHead, GNDetMaskRCNNConvUpsampleHead, GNDetRes5ROIHeads

__all__ = ["FastPathOptions", "GNDetConvFCHead", "GNDetMaskRCNNConvUpsampleHead",
           "GNDetRes5ROIHeads", "build_gn_det_resnet", "build_model", "convert_to_fast_path"]

"""Loading weights into gn_det models: Detectron (Caffe2), detectron2, gn_det and torchvision/timm
files, read safely, fetched through a local cache, with a coverage report on every load.

Trainers and tools load ``MODEL.WEIGHTS`` with :class:`GNDetCheckpointer` (or
:func:`load_weights`); ``strict_backbone=True`` refuses files that leave part of the ResNet at
random initialization.
"""
from . import caffe2, export, torchvision_resnet
from .anchor_order import AnchorOrderError
from .catalog import WEIGHTS_CATALOG, url_of
from .checkpointer import COVERAGE_REPORT_KEY, GNDetCheckpointer, load_weights
from .coverage import BackboneWeightsError, CoverageReport, require_backbone_loaded
from .fetch import WeightsUnavailableError, cache_dir, cached_path, local_weights_path
from .formats import UnsupportedWeightsFormatError, convert_checkpoint
from .safe_pickle import UnsafePickleError, read_weights_file

__all__ = [
    "AnchorOrderError",
    "COVERAGE_REPORT_KEY",
    "WEIGHTS_CATALOG",
    "BackboneWeightsError",
    "CoverageReport",
    "GNDetCheckpointer",
    "UnsafePickleError",
    "UnsupportedWeightsFormatError",
    "WeightsUnavailableError",
    "cache_dir",
    "cached_path",
    "caffe2",
    "convert_checkpoint",
    "export",
    "load_weights",
    "local_weights_path",
    "read_weights_file",
    "require_backbone_loaded",
    "torchvision_resnet",
    "url_of",
]

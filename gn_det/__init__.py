"""gn_det: Group Normalization (Wu & He, 2018) for detectron2.

``import gn_det`` makes the installed detectron2 work on today's stack (see :mod:`gn_det.compat`)
and registers gn_det's backbones, heads and datasets in detectron2's registries.
"""
from . import compat

compat.apply()

from . import data, modeling  # noqa: E402,F401  (registration)
from .config import add_gn_config  # noqa: E402

__all__ = ["add_gn_config"]

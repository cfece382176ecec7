"""gn_det for detectron2's LazyConfig (Python) configs: the pieces configs/lazy/*.py are built from,
loading with one-line errors, and the view of a lazy config that gn_det's engine reads."""
from .config import (
    TRAIN_KEYS,
    add_gn_det_train_keys,
    gn_det_evaluator,
    in_lazy_terms,
    lazy_config_of,
    load_lazy_config,
    training_view,
)
from .model import (
    GN,
    as_gn_det_model,
    basic_block_stages,
    generalized_rcnn,
    gn_norm,
    group_norm,
    use_group_norm,
)
from .recipes import gn_version_of
from .solver import clipped_sgd, step_schedule

__all__ = [
    "GN", "TRAIN_KEYS", "add_gn_det_train_keys", "as_gn_det_model", "basic_block_stages",
    "clipped_sgd", "generalized_rcnn", "gn_det_evaluator", "gn_norm", "gn_version_of",
    "group_norm", "in_lazy_terms", "lazy_config_of", "load_lazy_config", "step_schedule",
    "training_view", "use_group_norm",
]

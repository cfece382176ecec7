"""Lazy (Python) configs for gn_det's tools: loading with one-line errors, and the yacs view of a
lazy config through which gn_det's engine (trainer, checks, evaluation) reads it.

gn_det's engine is written against yacs keys (``SOLVER.IMS_PER_BATCH``, ``DATASETS.TRAIN``,
``GN_DET.MAX_LOSS``...). :func:`training_view` gives a lazy config's values under those keys, so
tools/lazyconfig_train_net.py runs the very checks, trainer and evaluation of tools/train_net.py;
:func:`in_lazy_terms` renames the keys in their messages back to the lazy config's fields.
"""
import difflib
import inspect
import logging
import os

import torch
from detectron2.config import LazyCall as L
from detectron2.config import LazyConfig
from detectron2.utils.registry import locate
from omegaconf import DictConfig, ListConfig, OmegaConf

from ..config import get_cfg
from ..errors import ConfigError
from ..evaluation import GNDetCOCOEvaluator

logger = logging.getLogger(__name__)

# gn_det's keys of a lazy config's ``train`` node (what GN_DET and SEED are to a YAML config).
TRAIN_KEYS = dict(
    # Seed of the run's data order, augmentation and sampling; -1 draws one (kept in checkpoints).
    seed=-1,
    # Refuse init_checkpoint files that leave a ResNet parameter at its random initialization.
    strict_backbone_weights=True,
    # Open every image of the run's datasets before training (False on slow storage).
    check_image_files=True,
    # Stop training, as for a NaN, when a loss term exceeds this.
    max_loss=1.0e4,
)

# The top-level nodes a training config needs (detectron2's tools/lazyconfig_train_net.py reads
# the same ones).
REQUIRED_NODES = ("model", "dataloader", "optimizer", "lr_multiplier", "train")

# Each yacs key of the view: the lazy fields it is read from (the first one present), and the
# value when none is (_YACS_DEFAULT: gn_det's get_cfg() default).
_YACS_DEFAULT = object()
VIEW_KEYS = {
    "OUTPUT_DIR": (("train.output_dir",), _YACS_DEFAULT),
    "MODEL.DEVICE": (("train.device",), _YACS_DEFAULT),
    "MODEL.WEIGHTS": (("train.init_checkpoint",), ""),
    # detectron2's ResNet freezes nothing unless told (FREEZE_AT's yacs default is 2).
    "MODEL.BACKBONE.FREEZE_AT": (("model.backbone.bottom_up.freeze_at", "model.backbone.freeze_at"),
                                 0),
    "MODEL.ROI_HEADS.NUM_CLASSES": (("model.roi_heads.num_classes",), _YACS_DEFAULT),
    "SEED": (("train.seed",), -1),
    "SOLVER.IMS_PER_BATCH": (("dataloader.train.total_batch_size",), _YACS_DEFAULT),
    "SOLVER.MAX_ITER": (("train.max_iter",), _YACS_DEFAULT),
    "SOLVER.CHECKPOINT_PERIOD": (("train.checkpointer.period",), _YACS_DEFAULT),
    "SOLVER.AMP.ENABLED": (("train.amp.enabled",), False),
    "TEST.EVAL_PERIOD": (("train.eval_period",), 0),
    "DATASETS.TRAIN": (("dataloader.train.dataset.names",), ()),
    "DATASETS.TEST": (("dataloader.test.dataset.names",), ()),
    "DATALOADER.NUM_WORKERS": (("dataloader.train.num_workers",), 0),
    "DATALOADER.FILTER_EMPTY_ANNOTATIONS": (("dataloader.train.dataset.filter_empty",), True),
    "DATALOADER.ASPECT_RATIO_GROUPING": (("dataloader.train.aspect_ratio_grouping",), True),
    "TEST.COCO_EVAL_BACKEND": (("dataloader.evaluator.backend",), "pycocotools"),
    "GN_DET.STRICT_BACKBONE_WEIGHTS": (("train.strict_backbone_weights",), True),
    "GN_DET.CHECK_IMAGE_FILES": (("train.check_image_files",), True),
    "GN_DET.MAX_LOSS": (("train.max_loss",), 1.0e4),
    "DATALOADER.SAMPLER_TRAIN": (("dataloader.train.sampler",), "TrainingSampler"),
}
_ABSENT = object()


def add_gn_det_train_keys(train):
    """Add :data:`TRAIN_KEYS` (defaults) to a lazy config's ``train`` node; returns it."""
    for key, value in TRAIN_KEYS.items():
        train[key] = value
    return train


def gn_det_evaluator(backend="pycocotools", tasks=("bbox", "segm")):
    """The ``dataloader.evaluator`` config of gn_det: COCO evaluation of ``dataloader.test``'s
    dataset by ``backend`` (TEST.COCO_EVAL_BACKEND), AP 0 instead of NaN without predictions."""
    return L(GNDetCOCOEvaluator)(dataset_name="${..test.dataset.names}", backend=backend,
                                 tasks=list(tasks))


def _all_keys(node, prefix=""):
    if isinstance(node, dict):
        for key, value in node.items():
            yield prefix + str(key)
            yield from _all_keys(value, f"{prefix}{key}.")


def _accepts_argument(target, name):
    # Whether the callable of a LazyCall node takes ``name`` (then the override sets an argument
    # the config leaves at its default).
    target = locate(target) if isinstance(target, str) else target
    try:
        parameters = inspect.signature(target).parameters
    except (TypeError, ValueError):
        return True  # no signature to check against
    return name in parameters or any(p.kind is p.VAR_KEYWORD for p in parameters.values())


def _check_override_key(cfg, key):
    if key.startswith("+") or OmegaConf.select(cfg, key, default=_ABSENT,
                                               throw_on_resolution_failure=False) is not _ABSENT:
        return
    parent_key, _, name = key.rpartition(".")
    parent = OmegaConf.select(cfg, parent_key, default=None) if parent_key else cfg
    if isinstance(parent, DictConfig) and "_target_" in parent and _accepts_argument(
            parent._target_, name):
        return
    keys = list(_all_keys(OmegaConf.to_container(cfg, resolve=False)))
    nearest = difflib.get_close_matches(key, keys, n=1, cutoff=0.6)
    hint = f" Did you mean {nearest[0]}?" if nearest else ""
    raise ConfigError(f"Unknown config key {key} in the command-line overrides.{hint} (Write "
                      f"+{key}=VALUE to add a key the config does not have.)")


def _apply_overrides(cfg, overrides):
    for override in overrides:
        key, sep, _ = override.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"Override {override!r} is not key=value: lazy configs take "
                              "overrides such as train.max_iter=100 (one token each).")
        _check_override_key(cfg, key.strip())
    try:
        LazyConfig.apply_overrides(cfg, list(overrides))
    except Exception as error:  # hydra's grammar and OmegaConf's type errors
        message = " ".join(str(error).split())
        raise ConfigError(f"Invalid override in {list(overrides)}: {message}") from None


def _load(path):
    if not os.path.isfile(path):
        raise ConfigError(f"Config file not found: {path}. The lazy presets are in the "
                          "configs/lazy/ folder of gn_det, e.g. "
                          "configs/lazy/mask_rcnn_R50_FPN_gn_long.py.")
    try:
        cfg = LazyConfig.load(path)
    except SyntaxError as error:
        raise ConfigError(f"{path} is not valid Python: {error.msg} at line {error.lineno}.") \
            from None
    except Exception as error:  # anything the config file's own code raises
        raise ConfigError(f"Cannot load {path}: {type(error).__name__}: {error}") from None
    missing = [name for name in REQUIRED_NODES if name not in cfg]
    if missing:
        yacs = (" It looks like a YAML preset: train it with tools/train_net.py."
                if "MODEL" in cfg or "_BASE_" in cfg else "")
        raise ConfigError(f"{path} is not a lazy training config: it does not define "
                          f"{', '.join(missing)}.{yacs}")
    return cfg


def _fall_back_to_cpu(cfg):
    if torch.cuda.is_available():
        return
    if str(cfg.train.device).startswith("cuda"):
        logger.warning(f"train.device is {cfg.train.device!r} but torch finds no CUDA GPU: "
                       "running on the CPU (train.device=cpu says so and hides this warning).")
        cfg.train.device = "cpu"
    if OmegaConf.select(cfg, "train.amp.enabled", default=False):
        logger.warning("train.amp.enabled: mixed precision needs a CUDA GPU; training in float32 "
                       "on the CPU.")
        cfg.train.amp.enabled = False


def load_lazy_config(path, overrides=()):
    """The lazy config of ``path`` with ``key=value`` ``overrides`` applied.

    A missing file, a file that fails to load, a file that is no training config, an override key
    the config does not have (a typo) and an invalid override raise :class:`ConfigError` with one
    line. ``train.device`` "cuda" (and AMP) fall back to the CPU when no GPU is present.
    """
    cfg = _load(path)
    _apply_overrides(cfg, overrides)
    _fall_back_to_cpu(cfg)
    return cfg


def _view_value(cfg, paths, default):
    for path in paths:
        value = OmegaConf.select(cfg, path, default=_ABSENT, throw_on_resolution_failure=False)
        if value is not _ABSENT:
            return value
    return default


def _as_yacs(key, value):
    if key.startswith("DATASETS."):
        return (value,) if isinstance(value, str) else tuple(value)
    if key == "DATALOADER.SAMPLER_TRAIN" and value is not None and not isinstance(value, str):
        target = value.get("_target_") if isinstance(value, DictConfig) else value
        return getattr(target, "__name__", str(target))
    if value is None and key == "DATALOADER.SAMPLER_TRAIN":
        return "TrainingSampler"  # build_detection_train_loader's default
    return list(value) if isinstance(value, ListConfig) else value


def training_view(cfg):
    """gn_det's yacs config (:func:`gn_det.config.get_cfg`) holding the values of lazy config
    ``cfg`` that gn_det's engine reads (:data:`VIEW_KEYS`), frozen, with ``cfg`` attached
    (:func:`lazy_config_of`)."""
    view = get_cfg()
    for key, (paths, default) in VIEW_KEYS.items():
        value = _view_value(cfg, paths, default)
        if value is _YACS_DEFAULT:
            continue
        *parents, name = key.split(".")
        node = view
        for parent in parents:
            node = node[parent]
        node[name] = _as_yacs(key, value)
    view.MODEL.MASK_ON = OmegaConf.select(cfg, "model.roi_heads.mask_head") is not None
    object.__setattr__(view, "_lazy_config", cfg)
    view.freeze()
    return view


def lazy_config_of(view):
    """The lazy config a :func:`training_view` was made from."""
    return view.__dict__["_lazy_config"]


def in_lazy_terms(message):
    """``message`` with the yacs keys of :data:`VIEW_KEYS` named by their lazy fields."""
    for key in sorted(VIEW_KEYS, key=len, reverse=True):
        message = message.replace(key, VIEW_KEYS[key][0][0])
    return message

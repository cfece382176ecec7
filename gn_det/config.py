import difflib
import logging
import os

import torch
import yaml
from detectron2.config import CfgNode as CN
from detectron2.config import get_cfg as detectron2_get_cfg
from detectron2.utils.logger import log_first_n

from .data.register_coco import register_coco_datasets
from .errors import ConfigError


def add_gn_config(cfg):
    """Add gn_det's keys to a detectron2 config. Call on ``get_cfg()`` before ``merge_from_file``.

    Calling it again on the same config changes nothing (values already set are kept).
    """
    if "GN_DET" in cfg:
        return cfg
    cfg.GN_DET = CN()
    # Refuse to start when MODEL.WEIGHTS leaves any ResNet parameter at its random initialization
    # (wrong depth, norm, STRIDE_IN_1X1 or format); the coverage report says which and why.
    cfg.GN_DET.STRICT_BACKBONE_WEIGHTS = True
    # Before training, open every image of the run's datasets (header and end: missing, unreadable,
    # truncated, size differing from the annotations; seconds for COCO on a local disk). Set False
    # on storage too slow for that: a bad image then stops the run only when it is read.
    cfg.GN_DET.CHECK_IMAGE_FILES = True
    # Stop training, as for a NaN, when a loss term exceeds this: detection losses are ~0.1-10,
    # a diverging run's grow past 1e4 long before they overflow to Inf.
    cfg.GN_DET.MAX_LOSS = 1.0e4
    cfg.MODEL.GN = CN()
    # Number of groups G of every "GN" norm layer (paper: 32). LN is NUM_GROUPS 1.
    cfg.MODEL.GN.NUM_GROUPS = 32
    # Channels per group instead of a number of groups; -1 = off. Exactly one of NUM_GROUPS and
    # DIM_PER_GROUP is active: set NUM_GROUPS to -1 to use it. IN is DIM_PER_GROUP 1.
    cfg.MODEL.GN.DIM_PER_GROUP = -1
    # Added to the group variance before the square root.
    cfg.MODEL.GN.EPSILON = 1e-5
    # Weight standardization (Qiao et al., 2019) in every conv followed by a "GN" norm (GN+WS).
    cfg.MODEL.GN.WEIGHT_STANDARDIZATION = False
    cfg.MODEL.FAST_PATH = CN()
    # Fused convs (FrozenBN folded, in-place ReLU and residual add); the same state dict.
    cfg.MODEL.FAST_PATH.ENABLED = True
    # Compiled in-place GN+residual+ReLU in inference (torch.compile); float rounding changes.
    # None: on where measured faster (MODEL.DEVICE cpu), off elsewhere; True/False force it.
    cfg.MODEL.FAST_PATH.COMPILE = None
    # Channels-last convs and activations (+ fast RoIAlign on CPU); float rounding changes.
    # None: on where measured faster (MODEL.DEVICE cpu), off elsewhere; True/False force it.
    cfg.MODEL.FAST_PATH.CHANNELS_LAST = None
    # glibc malloc reuses freed CPU memory instead of faulting in fresh pages for every large
    # tensor (gn_det.cpu_allocator; process-wide, resident memory stays near its peak). None: on
    # when MODEL.DEVICE is cpu; True/False force it (it never affects CUDA memory). Part of the
    # fast path: off when ENABLED is False.
    cfg.MODEL.FAST_PATH.REUSE_CPU_MEMORY = None
    # COCO evaluation: "pycocotools" (the reference) or "faster_coco_eval" (gn_det[fast-eval]).
    cfg.TEST.COCO_EVAL_BACKEND = "pycocotools"
    # Own COCO datasets, [[name, json file, image root], ...], registered by load_config (paths
    # relative to the working directory, saved absolute); see gn_det.data.register_coco.
    cfg.DATASETS.REGISTER_COCO = []
    return cfg


def get_cfg():
    """detectron2's ``get_cfg()`` with gn_det's keys: the config gn_det's YAML files merge into."""
    return add_gn_config(detectron2_get_cfg())


def require_gn_config(cfg):
    """Raise :class:`ConfigError` unless ``cfg`` has gn_det's keys (for gn_det's builders, which
    would otherwise fail deep inside with ``AttributeError: GN``)."""
    if "GN_DET" not in cfg:
        raise ConfigError(
            "This config has no gn_det keys (MODEL.GN, MODEL.FAST_PATH, GN_DET): create it with "
            "gn_det.config.get_cfg(), or call gn_det.config.add_gn_config(cfg) on detectron2's "
            "get_cfg() before merge_from_file."
        )


def _all_keys(node, prefix=""):
    for key, value in node.items():
        full = prefix + key
        if isinstance(value, CN):
            yield from _all_keys(value, full + ".")
        else:
            yield full


def _unknown_key_error(error, source, cfg):
    # yacs reports "Non-existent [config ]key: MODEL.FOO"; name the source and the nearest real key.
    key = str(error).split(":", 1)[-1].strip().strip("'\"")
    nearest = difflib.get_close_matches(key, list(_all_keys(cfg)), n=1, cutoff=0.6)
    hint = f" Did you mean {nearest[0]}?" if nearest else ""
    return ConfigError(f"Unknown config key {key} in {source}.{hint}")


def load_config(config_file, overrides=()):
    """detectron2 config with gn_det's keys, merged from ``config_file`` and KEY VALUE overrides.

    Errors a newcomer hits first (missing file, unknown key, wrong type) raise :class:`ConfigError`
    with one clear line. MODEL.DEVICE "cuda" falls back to "cpu" when no GPU is present. The
    datasets of ``DATASETS.REGISTER_COCO`` are registered with detectron2.
    """
    cfg = get_cfg()
    if config_file:
        _check_config_files(config_file)
        _merge(cfg, lambda: cfg.merge_from_file(config_file), config_file)
    if len(overrides) % 2:
        raise ConfigError(f"Overrides must be KEY VALUE pairs, got an odd number: {list(overrides)}")
    _merge(cfg, lambda: cfg.merge_from_list(list(overrides)), "the command-line overrides")
    register_coco_datasets(cfg)
    if cfg.MODEL.DEVICE.startswith("cuda") and not torch.cuda.is_available():
        log_first_n(logging.WARNING, f"MODEL.DEVICE is {cfg.MODEL.DEVICE!r} but torch finds no "
                    "CUDA GPU: running on the CPU (MODEL.DEVICE cpu says so and hides this "
                    "warning).", n=1)
        cfg.MODEL.DEVICE = "cpu"
    return cfg


def _check_config_files(path, referrer=None, base=None):
    # ``path`` and the _BASE_ files it names exist and hold YAML mappings; the error names the file
    # at fault (and, for a _BASE_, the file that names it).
    if path.startswith(("https://", "http://")):
        return  # detectron2 fetches it
    if not os.path.isfile(path):
        if referrer is None:
            raise ConfigError(f"Config file not found: {path}. The presets are in the configs/ "
                              "folder of gn_det, e.g. configs/mask_rcnn_R50_FPN_gn_long.yaml.")
        raise ConfigError(f"_BASE_ file not found: {base!r} in {referrer} resolves to {path}, "
                          "which does not exist (a _BASE_ path is relative to the file that names "
                          "it).")
    try:
        with open(path) as f:
            content = yaml.safe_load(f)
    except yaml.constructor.ConstructorError:
        return  # Python tags: detectron2 loads them with yaml.unsafe_load, leave it to it
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(error, "problem", None) or str(error)
        raise ConfigError(f"{path} is not valid YAML: {problem}{where}.") from None
    if not isinstance(content, dict):
        raise ConfigError(f"{path} holds no config keys: a config file is a YAML mapping of KEY: "
                          "value (see the files in gn_det's configs/ folder).")
    bases = content.get("_BASE_", [])
    for name in [bases] if isinstance(bases, str) else bases:
        _check_config_files(_resolve_base(name, path), path, name)


def _resolve_base(name, referrer):
    # Where fvcore's CfgNode.load_yaml_with_base looks for a _BASE_ file.
    name = os.path.expanduser(name)
    if name.startswith(("/", "https://", "http://")):
        return name
    return os.path.join(os.path.dirname(referrer), name)


def _merge(cfg, merge, source):
    try:
        merge()
    except (KeyError, ValueError, AssertionError) as error:
        if "Non-existent" in str(error):
            raise _unknown_key_error(error, source, cfg) from None
        raise ConfigError(f"Invalid value in {source}: {str(error).strip(chr(34))}") from None

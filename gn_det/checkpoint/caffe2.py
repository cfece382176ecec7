"""Detectron (Caffe2) weight files: FAIR's GN ImageNet ResNets and GN Mask R-CNN models.

A Detectron file is a pickle of ``{'blobs': {name: float32 array}}`` (ImageNet files may be the
bare blob dict), plus ``'cfg'`` (the training config as YAML) in trained models and
``<blob>_momentum`` entries in training snapshots. Names follow Detectron's model builders:
``conv1_w`` + ``conv1_gn_{s,b}``, ``res3_0_branch2a_w``, ``fpn_inner_res5_2_sum_w``,
``head_conv1_w``, ``_mask_fcn1_w``, ``conv5_mask_w``, ``mask_fcn_logits_w``... detectron2's
``convert_c2_detectron_names`` renames them, GN names included (``_gn_s``/``_gn_b`` -> ``norm``),
and moves the background class of the 81-way outputs: last in ``cls_score``, dropped from
``bbox_pred`` (4 rows) and the mask logits (1 row). The rows of a C4 RPN are put in
detectron2's order of anchors (:mod:`.anchor_order`). Renamed blobs are then placed by suffix
(:mod:`.matching`), so the same file loads into FPN and C4 models.
"""
import numpy as np
import torch
from detectron2.checkpoint.c2_model_loading import convert_c2_detectron_names

from .anchor_order import reorder_single_level_rpn
from .converted import ConvertedWeights, InputConventions
from .matching import rename_by_suffix

FORMAT = "Detectron (Caffe2) .pkl"

# FAIR's GN weights (ImageNet and Mask R-CNN): stride-2 in the 3x3 conv, BGR input in 0-255 with
# Detectron's pixel means and no division by a standard deviation.
FAIR_GN_CONVENTIONS = InputConventions(
    stride_in_1x1=False,
    input_format="BGR",
    pixel_mean=(102.9801, 115.9465, 122.7717),
    pixel_std=(1.0, 1.0, 1.0),
)
# Other Detectron files (MSRA's BN ResNets put the stride in the 1x1 conv, FAIR's ResNeXts in the
# 3x3): only the input convention is common to all.
DETECTRON_CONVENTIONS = InputConventions(input_format="BGR", pixel_std=(1.0, 1.0, 1.0))

_IMAGENET_CLASSIFIER = ("pred_w", "pred_b")
# Detectron folds a frozen BN into a per-channel affine: scale <name>_bn_s, shift <name>_bn_b.
_AFFINE_BN_SCALE = "_bn_s"
_GN_SCALE = "_gn_s"


def config_overrides():
    """Config KEY VALUE pairs that FAIR's GN weights need (stride, BGR, Detectron's pixel stats)."""
    return FAIR_GN_CONVENTIONS.config_overrides()


def is_detectron_file(data):
    """True for Detectron's layout: ``blobs``, or a bare dict of arrays with underscored names."""
    if "blobs" in data:
        return True
    return bool(data) and all(
        isinstance(value, np.ndarray) and "." not in name for name, value in data.items()
    )


def _reason_to_ignore(name, value):
    if name.endswith("_momentum"):
        return "SGD momentum (training state)"
    if name in _IMAGENET_CLASSIFIER:
        return "ImageNet 1000-way classifier"
    if not isinstance(value, np.ndarray):
        return "not an array"
    return None


def _split_blobs(data):
    """(blobs to load as tensors, {name: reason} of the file's entries that are not weights)."""
    if "blobs" in data:
        blobs = data["blobs"]
        ignored = {name: "Detectron training config" if name == "cfg" else "outside 'blobs'"
                   for name in data if name != "blobs"}
    else:
        blobs, ignored = data, {}
    arrays = {}
    for name, value in blobs.items():
        reason = _reason_to_ignore(name, value)
        if reason:
            ignored[name] = reason
        else:
            arrays[name] = torch.from_numpy(np.ascontiguousarray(value))
    return arrays, ignored


def _add_folded_bn_statistics(tensors, source_names, model_state_dict):
    """Give FrozenBN layers loaded from affine ``_bn_s`` blobs mean 0 and variance 1.

    With those statistics FrozenBN computes the affine the blobs describe.
    """
    for key, source in list(source_names.items()):
        if not (key.endswith(".weight") and source.endswith(_AFFINE_BN_SCALE)):
            continue
        prefix = key[: -len("weight")]
        for statistic, value in (("running_mean", 0.0), ("running_var", 1.0)):
            if prefix + statistic in model_state_dict:
                tensors[prefix + statistic] = torch.full_like(tensors[key], value)
                source_names[prefix + statistic] = f"{source} (folded BN: {statistic} {value:g})"


def convert_detectron_file(data, model_state_dict, path, anchor_layout=None):
    """:class:`ConvertedWeights` of the Detectron file ``path`` for a model with
    ``model_state_dict`` whose RPN anchors per location are ``anchor_layout``
    (:func:`.anchor_order.anchor_layout`)."""
    arrays, ignored = _split_blobs(data)
    arrays = reorder_single_level_rpn(arrays, anchor_layout, model_state_dict, path)
    renamed, original_names = convert_c2_detectron_names(arrays)
    tensors, source_names = rename_by_suffix(renamed, original_names, model_state_dict.keys())
    _add_folded_bn_statistics(tensors, source_names, model_state_dict)
    has_gn = any(name.endswith(_GN_SCALE) for name in arrays)
    return ConvertedWeights(
        format=FORMAT,
        tensors=tensors,
        source_names=source_names,
        ignored=ignored,
        conventions=FAIR_GN_CONVENTIONS if has_gn else DETECTRON_CONVENTIONS,
    )

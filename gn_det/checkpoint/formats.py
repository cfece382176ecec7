"""Recognising a weight file's format and converting it for a model.

* Detectron (Caffe2) ``.pkl``: :mod:`.caffe2`.
* detectron2 model zoo ``.pkl`` (``{'model': {name: array}, '__author__': ...}``), detectron2 and
  gn_det ``.pth`` checkpoints (``{'model': state_dict, ...}``) and bare state dicts with the
  model's names: loaded by name. Files flagged ``matching_heuristics`` (detectron2's converted
  ImageNet backbones, named ``res2.0.conv1.weight``) are placed by suffix.
* torchvision/timm ResNet state dicts (optionally under ``'state_dict'``):
  :mod:`.torchvision_resnet`.
"""
import numpy as np
import torch

from ..errors import GNDetError
from . import caffe2, torchvision_resnet
from .converted import ConvertedWeights
from .matching import rename_by_suffix

DETECTRON2_FORMAT = "detectron2"

# Entries of a detectron2 file that describe it rather than hold training state.
_DETECTRON2_METADATA = ("__author__", "matching_heuristics")
# Prefix that DistributedDataParallel adds to every name of a wrapped model.
_DDP_PREFIX = "module."

_SUPPORTED = (
    "Supported: Detectron (Caffe2) .pkl, detectron2 model zoo .pkl, detectron2/gn_det .pth "
    "({'model': state_dict}) and torchvision/timm ResNet state dicts."
)


class UnsupportedWeightsFormatError(GNDetError, ValueError):
    """A file that holds no state dict in any format gn_det reads."""


def _as_tensor(value):
    return torch.from_numpy(np.ascontiguousarray(value)) if isinstance(value, np.ndarray) else value


def _is_state_dict(data):
    return bool(data) and all(isinstance(value, (torch.Tensor, np.ndarray))
                              for value in data.values())


def _without_ddp_prefix(state_dict):
    if state_dict and all(name.startswith(_DDP_PREFIX) for name in state_dict):
        return {name[len(_DDP_PREFIX):]: value for name, value in state_dict.items()}
    return state_dict


def _convert_detectron2(checkpoint, model_state_dict):
    state_dict = _without_ddp_prefix({name: _as_tensor(value)
                                      for name, value in checkpoint["model"].items()})
    source_names = {name: name for name in state_dict}
    if checkpoint.get("matching_heuristics", False):
        state_dict, source_names = rename_by_suffix(state_dict, source_names,
                                                    model_state_dict.keys())
    other_entries = {key: value for key, value in checkpoint.items()
                     if key != "model" and key not in _DETECTRON2_METADATA}
    return ConvertedWeights(format=DETECTRON2_FORMAT, tensors=state_dict,
                            source_names=source_names, other_entries=other_entries)


def convert_checkpoint(data, model_state_dict, path, anchor_layout=None):
    """:class:`ConvertedWeights` of the object read from ``path`` for a model's state dict.

    ``anchor_layout`` (:func:`.anchor_order.anchor_layout` of the model) orders the rows of a
    Detectron C4 RPN.
    """
    if not isinstance(data, dict):
        raise UnsupportedWeightsFormatError(
            f"{path} holds a {type(data).__name__}, not a dict of weights. " + _SUPPORTED)
    if caffe2.is_detectron_file(data):
        return caffe2.convert_detectron_file(data, model_state_dict, path, anchor_layout)
    if isinstance(data.get("model"), dict):
        return _convert_detectron2(data, model_state_dict)
    state_dict = _without_ddp_prefix(data.get("state_dict", data))
    if torchvision_resnet.is_torchvision_resnet(state_dict):
        return torchvision_resnet.convert_torchvision_resnet(state_dict, model_state_dict)
    if _is_state_dict(state_dict):
        return _convert_detectron2({"model": state_dict}, model_state_dict)
    raise UnsupportedWeightsFormatError(
        f"{path} is a dict with keys {sorted(data)[:8]} but no weights gn_det can read. "
        + _SUPPORTED)

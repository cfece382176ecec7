"""PyTorch-style ResNet checkpoints (torchvision, timm) with GN, e.g. timm's ``resnet50_gn``.

They name layers ``conv1``/``bn1``, ``layer1..4.<i>.conv{1,2,3}``/``bn{1,2,3}``,
``downsample.0``/``downsample.1`` and ``fc`` (timm keeps the ``bn`` names for its GroupNorm
layers). OpenMMLab's ResNets name a GroupNorm ``gn1``/``gn{1,2,3}`` instead (mmcv's
``build_norm_layer``), as in the GN+WS ImageNet ResNets of the WS authors that mmcv publishes as
``jhu/resnet50_gn_ws``; those files wrap the state dict in ``'state_dict'``. The ResNet maps onto
detectron2's ``stem`` and ``res2..res5``; ``fc`` (the ImageNet classifier) is dropped.

Their input convention differs from Detectron's: RGB images, normalised by ImageNet's mean and
standard deviation (given for 0-1 pixels; times 255 here), stride-2 in the 3x3 conv.
:func:`config_overrides` returns the matching detectron2 settings.
"""
import re

from .converted import ConvertedWeights, InputConventions
from .matching import rename_by_suffix

FORMAT = "torchvision/timm ResNet"

# RGB, ImageNet mean (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225) times 255.
TORCHVISION_CONVENTIONS = InputConventions(
    stride_in_1x1=False,
    input_format="RGB",
    pixel_mean=(123.675, 116.28, 103.53),
    pixel_std=(58.395, 57.12, 57.375),
)

_STAGE_OFFSET = 1  # torchvision's layer1 is detectron2's res2


def _stage(match):
    return f"res{int(match['layer']) + _STAGE_OFFSET}.{match['block']}"


_RENAMES = (
    (re.compile(r"^conv1\."), lambda m: "stem.conv1."),
    (re.compile(r"^[bg]n1\."), lambda m: "stem.conv1.norm."),
    (re.compile(r"^layer(?P<layer>\d)\.(?P<block>\d+)\.conv(?P<conv>\d)\."),
     lambda m: f"{_stage(m)}.conv{m['conv']}."),
    (re.compile(r"^layer(?P<layer>\d)\.(?P<block>\d+)\.[bg]n(?P<conv>\d)\."),
     lambda m: f"{_stage(m)}.conv{m['conv']}.norm."),
    (re.compile(r"^layer(?P<layer>\d)\.(?P<block>\d+)\.downsample\.0\."),
     lambda m: f"{_stage(m)}.shortcut."),
    (re.compile(r"^layer(?P<layer>\d)\.(?P<block>\d+)\.downsample\.1\."),
     lambda m: f"{_stage(m)}.shortcut.norm."),
)


def config_overrides():
    """Config KEY VALUE pairs these checkpoints need: stride in 3x3, RGB, ImageNet mean/std x255."""
    return TORCHVISION_CONVENTIONS.config_overrides()


def is_torchvision_resnet(state_dict):
    """True for a torchvision/timm ResNet state dict (``conv1.weight`` and ``layer1.0...``)."""
    return "conv1.weight" in state_dict and any(name.startswith("layer1.0.") for name in state_dict)


def detectron2_name(name):
    """The detectron2 ResNet name (``res2.0.conv1.norm.weight``) of a torchvision/timm name."""
    for pattern, replacement in _RENAMES:
        renamed, count = pattern.subn(replacement, name)
        if count:
            return renamed
    return name


def _reason_to_ignore(name):
    if name.startswith("fc."):
        return "ImageNet 1000-way classifier"
    if name.endswith("num_batches_tracked"):
        return "BatchNorm step counter"
    return None


def convert_torchvision_resnet(state_dict, model_state_dict):
    """:class:`ConvertedWeights` of a torchvision/timm ResNet for a model's state dict."""
    ignored, tensors, source_names = {}, {}, {}
    for name, tensor in state_dict.items():
        reason = _reason_to_ignore(name)
        if reason:
            ignored[name] = reason
            continue
        renamed = detectron2_name(name)
        tensors[renamed] = tensor
        source_names[renamed] = name
    tensors, source_names = rename_by_suffix(tensors, source_names, model_state_dict.keys())
    return ConvertedWeights(
        format=FORMAT,
        tensors=tensors,
        source_names=source_names,
        ignored=ignored,
        conventions=TORCHVISION_CONVENTIONS,
    )

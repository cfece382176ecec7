"""The pieces of a lazy (Python) config that make it build gn_det's models.

detectron2's LazyConfig recipes (configs/common, configs/new_baselines) choose each component's
norm by an argument (``stem.norm``, ``stages.norm``, the FPN's ``norm``, the heads' ``conv_norm``)
that also takes a callable ``channels -> nn.Module``. gn_det's lazy configs put there
:func:`group_norm`, configured by one ``gn`` node at the root of the config (:data:`GN`), so one
override (``gn.num_groups=16``) reaches every GN layer, as ``MODEL.GN`` does in the YAML presets.
The model itself is :func:`generalized_rcnn`: detectron2's GeneralizedRCNN, then weight
standardization and the fast path over the whole model, as gn_det's YAML builders apply them.
"""
from detectron2.config import CfgNode as CN
from detectron2.config import LazyCall as L
from detectron2.modeling import GeneralizedRCNN
from detectron2.modeling.backbone.resnet import BasicBlock, ResNet

from ..errors import ConfigError
from ..layers import GroupNormFactory, GroupNormSpec, standardize_conv_weights
from ..modeling import FastPathOptions
from ..modeling.backbone import BLOCKS_PER_STAGE

# The root ``gn`` node of a lazy config: what MODEL.GN is to a YAML config.
GN = dict(
    # Number of groups G of every GN layer (paper: 32). LN is num_groups 1.
    num_groups=32,
    # Channels per group instead of a number of groups; -1 = off (then set num_groups to -1).
    dim_per_group=-1,
    # Added to the group variance before the square root.
    eps=1e-5,
    # Weight standardization (Qiao et al., 2019) in every conv followed by GN (GN+WS).
    weight_standardization=False,
)


class LazyGroupNormSpec(GroupNormSpec):
    """GroupNormSpec whose errors name the lazy config's fields."""

    num_groups_key = "gn.num_groups"
    dim_per_group_key = "gn.dim_per_group"


def group_norm(layer, num_groups=32, dim_per_group=-1, eps=1e-5):
    """The norm callable (``channels -> nn.GroupNorm``) of the GN layers of ``layer``, for the
    ``norm`` / ``conv_norm`` arguments of detectron2's components."""
    if (num_groups > 0) == (dim_per_group > 0):
        raise ConfigError(f"Exactly one of gn.num_groups ({num_groups}) and gn.dim_per_group "
                          f"({dim_per_group}) must be positive; set the other to -1.")
    if eps <= 0:
        raise ConfigError(f"gn.eps must be positive, got {eps}.")
    return GroupNormFactory(LazyGroupNormSpec(num_groups, dim_per_group, eps), layer)


def gn_norm(layer):
    """The config node of :func:`group_norm` for ``layer``, reading the root ``gn`` node."""
    return L(group_norm)(layer=layer, num_groups="${gn.num_groups}",
                         dim_per_group="${gn.dim_per_group}", eps="${gn.eps}")


def use_group_norm(model, backbone=True, box_head=True, mask_head=True):
    """Put GN (:func:`gn_norm`) in a lazy Mask R-CNN FPN model config wherever detectron2's
    recipes put a norm: the ResNet stem and stages and the FPN (``backbone``), the box head convs
    and the mask head convs. Returns ``model``."""
    if backbone:
        model.backbone.bottom_up.stem.norm = gn_norm("backbone.bottom_up.stem")
        model.backbone.bottom_up.stages.norm = gn_norm("backbone.bottom_up (res2..res5)")
        model.backbone.norm = gn_norm("backbone (FPN)")
    if box_head:
        model.roi_heads.box_head.conv_norm = gn_norm("roi_heads.box_head")
    if mask_head:
        model.roi_heads.mask_head.conv_norm = gn_norm("roi_heads.mask_head")
    return model


def generalized_rcnn(*, weight_standardization=False, fast_path=None, **kwargs):
    """detectron2's ``GeneralizedRCNN(**kwargs)``, its convs before a GroupNorm standardized
    (``weight_standardization``), then converted to the fast path (``fast_path``, a
    :class:`~gn_det.modeling.FastPathOptions`, or None for none)."""
    model = GeneralizedRCNN(**kwargs)
    if weight_standardization:
        standardize_conv_weights(model)
    return model if fast_path is None else fast_path.convert(model)


def as_gn_det_model(model):
    """Make a lazy GeneralizedRCNN config build :func:`generalized_rcnn`: weight standardization
    from the root ``gn`` node, and the YAML presets' default fast path (MODEL.FAST_PATH) for
    ``train.device``. Returns ``model``."""
    model._target_ = generalized_rcnn
    model.weight_standardization = "${gn.weight_standardization}"
    # Fused convs with the same state dict; channels_last and compile_norm change float rounding
    # (None: gn_det's default for train.device, as MODEL.FAST_PATH's None).
    model.fast_path = L(fast_path_options)(device="${train.device}", channels_last=None,
                                           compile_norm=None)
    return model


def fast_path_options(device, enabled=True, channels_last=None, compile_norm=None,
                      reuse_cpu_memory=None):
    """The :class:`~gn_det.modeling.FastPathOptions` that ``MODEL.FAST_PATH`` (ENABLED,
    CHANNELS_LAST, COMPILE, REUSE_CPU_MEMORY) gives a model on ``device``; None when not
    ``enabled``."""
    fast_path = CN({"ENABLED": enabled, "CHANNELS_LAST": channels_last, "COMPILE": compile_norm,
                    "REUSE_CPU_MEMORY": reuse_cpu_memory})
    return FastPathOptions.from_config(CN({"MODEL": CN({"DEVICE": device,
                                                        "FAST_PATH": fast_path})}))


def basic_block_stages(depth, stem_out_channels, res2_out_channels, norm):
    """Config nodes of the res2..res5 stages of a ResNet-18/34 of any width (detectron2's
    ``make_default_stages`` has only the standard 64..512): ``res2_out_channels`` channels in
    res2, doubling at each stage, as gn_det's YAML backbone builds them."""
    stages, in_channels, out_channels = [], stem_out_channels, res2_out_channels
    for index, num_blocks in enumerate(BLOCKS_PER_STAGE[depth]):
        first_stride = 1 if index == 0 else 2
        stages.append(L(ResNet.make_stage)(
            block_class=BasicBlock, num_blocks=num_blocks,
            stride_per_block=[first_stride] + [1] * (num_blocks - 1),
            in_channels=in_channels, out_channels=out_channels, norm=norm))
        in_channels, out_channels = out_channels, out_channels * 2
    return stages

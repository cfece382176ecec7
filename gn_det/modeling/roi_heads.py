"""RoI heads whose norms come from gn_det's norm factory.

* ``GNDetConvFCHead``: detectron2's conv+fc box head (4conv1fc in the paper); ``ROI_BOX_HEAD.NORM``
  is "GN", "BN" (batch statistics, the paper's failure case) or "" (none).
* ``GNDetMaskRCNNConvUpsampleHead``: detectron2's 4conv + deconv mask head with a GN option.
* ``GNDetRes5ROIHeads``: the C4 RoI head; res5 gets ``MODEL.RESNETS.NORM`` from the same factory.

They subclass detectron2's heads and change only how the norm is chosen (and, with
``MODEL.FAST_PATH``, convert their convs to the fast path), so module names and checkpoints are
detectron2's. A norm key that would be silently ignored is an error instead.
"""
from detectron2.config import configurable
from detectron2.modeling.backbone.resnet import BottleneckBlock, ResNet
from detectron2.modeling.roi_heads import (
    ROI_BOX_HEAD_REGISTRY,
    ROI_HEADS_REGISTRY,
    ROI_MASK_HEAD_REGISTRY,
    FastRCNNConvFCHead,
    MaskRCNNConvUpsampleHead,
    Res5ROIHeads,
)
from torch import nn

from ..layers import norm_from_config, standardize_conv_weights
from .fast_path import FastPathOptions, fast_path_from_config


def _conv_norm_arguments(cfg, head_key, layer):
    """The norm arguments of a conv head (``head_key`` "ROI_BOX_HEAD" or "ROI_MASK_HEAD")."""
    head = cfg.MODEL[head_key]
    if head.NORM and head.NUM_CONV == 0:
        raise ValueError(
            f"MODEL.{head_key}.NORM={head.NORM!r} has no effect: MODEL.{head_key}.NUM_CONV is 0, so "
            f"the head has no conv to normalize. Set MODEL.{head_key}.NORM to \"\" or NUM_CONV > 0."
        )
    return {
        "conv_norm": norm_from_config(cfg, f"MODEL.{head_key}.NORM", layer),
        "weight_standardization": cfg.MODEL.GN.WEIGHT_STANDARDIZATION,
    }


@ROI_BOX_HEAD_REGISTRY.register()
class GNDetConvFCHead(FastRCNNConvFCHead):
    """detectron2's FastRCNNConvFCHead with its conv norm from gn_det's norm factory."""

    @configurable
    def __init__(self, input_shape, *, conv_dims, fc_dims, conv_norm="",
                 weight_standardization=False, fast_path=None):
        super().__init__(input_shape, conv_dims=conv_dims, fc_dims=fc_dims, conv_norm=conv_norm)
        if weight_standardization:
            standardize_conv_weights(self)
        if fast_path is not None:
            fast_path.convert(self)

    @classmethod
    def from_config(cls, cfg, input_shape):
        return {**super().from_config(cfg, input_shape),
                **_conv_norm_arguments(cfg, "ROI_BOX_HEAD", "roi_heads.box_head"),
                "fast_path": FastPathOptions.from_config(cfg)}


@ROI_MASK_HEAD_REGISTRY.register()
class GNDetMaskRCNNConvUpsampleHead(MaskRCNNConvUpsampleHead):
    """detectron2's MaskRCNNConvUpsampleHead with its conv norm from gn_det's norm factory."""

    @configurable
    def __init__(self, input_shape, *, num_classes, conv_dims, conv_norm="",
                 weight_standardization=False, fast_path=None, **kwargs):
        super().__init__(input_shape, num_classes=num_classes, conv_dims=conv_dims,
                         conv_norm=conv_norm, **kwargs)
        if weight_standardization:
            standardize_conv_weights(self)
        if fast_path is not None:
            fast_path.convert(self)

    @classmethod
    def from_config(cls, cfg, input_shape):
        return {**super().from_config(cfg, input_shape),
                **_conv_norm_arguments(cfg, "ROI_MASK_HEAD", "roi_heads.mask_head"),
                "fast_path": FastPathOptions.from_config(cfg)}


@ROI_HEADS_REGISTRY.register()
class GNDetRes5ROIHeads(Res5ROIHeads):
    """The C4 RoI head: ResNet's res5 on pooled features, normalized like the backbone."""

    @classmethod
    def from_config(cls, cfg, input_shape):
        if cfg.MODEL.ROI_BOX_HEAD.NORM:
            raise ValueError(
                f"MODEL.ROI_BOX_HEAD.NORM={cfg.MODEL.ROI_BOX_HEAD.NORM!r} has no effect in a C4 "
                "model: its box head is res5, normalized by MODEL.RESNETS.NORM. Set "
                "MODEL.ROI_BOX_HEAD.NORM to \"\"."
            )
        if cfg.MODEL.RESNETS.DEPTH < 50:
            raise ValueError(
                f"MODEL.RESNETS.DEPTH={cfg.MODEL.RESNETS.DEPTH}: the C4 res5 head needs bottleneck "
                "blocks (depth 50, 101 or 152)."
            )
        return super().from_config(cfg, input_shape)

    @classmethod
    def _build_res5_block(cls, cfg):
        resnets = cfg.MODEL.RESNETS
        res5_factor = 2 ** 3  # res5 has 8x the channels of res2
        out_channels = resnets.RES2_OUT_CHANNELS * res5_factor
        blocks = ResNet.make_stage(
            BottleneckBlock,
            3,
            stride_per_block=[2, 1, 1],
            in_channels=out_channels // 2,
            bottleneck_channels=resnets.NUM_GROUPS * resnets.WIDTH_PER_GROUP * res5_factor,
            out_channels=out_channels,
            num_groups=resnets.NUM_GROUPS,
            norm=norm_from_config(cfg, "MODEL.RESNETS.NORM", "roi_heads.res5"),
            stride_in_1x1=resnets.STRIDE_IN_1X1,
        )
        res5 = nn.Sequential(*blocks)
        if cfg.MODEL.GN.WEIGHT_STANDARDIZATION:
            standardize_conv_weights(res5)
        return fast_path_from_config(cfg, res5), out_channels

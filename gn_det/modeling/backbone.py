"""ResNet and ResNet+FPN backbones whose norms come from gn_det's norm factory.

They are detectron2's own ResNet, BasicStem, BottleneckBlock, BasicBlock and FPN modules, built
with the norm of ``MODEL.RESNETS.NORM`` / ``MODEL.FPN.NORM`` resolved by
:func:`gn_det.layers.norm_from_config`, so module and parameter names (``stem.conv1.norm``,
``res2.0.shortcut``, ``fpn_lateral2``...) are detectron2's and checkpoints stay interchangeable.
Differences from ``build_resnet_backbone``: GN takes its groups from ``MODEL.GN``, R18/R34 accept any
stage width (for small models), weight standardization is applied when switched on, and the fast
path (``MODEL.FAST_PATH``, :mod:`gn_det.modeling.fast_path`) when switched on.
"""
from detectron2.modeling import BACKBONE_REGISTRY
from detectron2.modeling.backbone.fpn import FPN, LastLevelMaxPool
from detectron2.modeling.backbone.resnet import BasicBlock, BasicStem, BottleneckBlock, ResNet

from ..layers import norm_from_config, standardize_conv_weights
from .fast_path import fast_path_from_config

# Residual blocks in res2..res5 for each supported depth.
BLOCKS_PER_STAGE = {
    18: (2, 2, 2, 2),
    34: (3, 4, 6, 3),
    50: (3, 4, 6, 3),
    101: (3, 4, 23, 3),
    152: (3, 8, 36, 3),
}


def _check_resnet_config(cfg):
    resnets = cfg.MODEL.RESNETS
    if resnets.DEPTH not in BLOCKS_PER_STAGE:
        raise ValueError(
            f"MODEL.RESNETS.DEPTH={resnets.DEPTH} is not supported; use one of "
            f"{sorted(BLOCKS_PER_STAGE)}."
        )
    if any(resnets.DEFORM_ON_PER_STAGE):
        raise ValueError(
            "MODEL.RESNETS.DEFORM_ON_PER_STAGE: gn_det backbones have no deformable convolutions; "
            "set it to [False, False, False, False]."
        )
    if resnets.RES5_DILATION not in (1, 2):
        raise ValueError(f"MODEL.RESNETS.RES5_DILATION must be 1 or 2, got {resnets.RES5_DILATION}.")
    if resnets.DEPTH < 50 and (resnets.NUM_GROUPS != 1 or resnets.RES5_DILATION != 1):
        raise ValueError(
            f"MODEL.RESNETS.DEPTH={resnets.DEPTH} uses basic blocks: MODEL.RESNETS.NUM_GROUPS and "
            "MODEL.RESNETS.RES5_DILATION must be 1."
        )


def _stage_blocks(cfg, stage, in_channels, out_channels, bottleneck_channels):
    """The residual blocks of stage ``stage`` (2..5), named res{stage} in errors."""
    resnets = cfg.MODEL.RESNETS
    num_blocks = BLOCKS_PER_STAGE[resnets.DEPTH][stage - 2]
    dilation = resnets.RES5_DILATION if stage == 5 else 1
    first_stride = 1 if stage == 2 or dilation == 2 else 2
    norm = norm_from_config(cfg, "MODEL.RESNETS.NORM", f"backbone res{stage}")
    stage_args = dict(
        num_blocks=num_blocks,
        stride_per_block=[first_stride] + [1] * (num_blocks - 1),
        in_channels=in_channels,
        out_channels=out_channels,
        norm=norm,
    )
    if resnets.DEPTH < 50:
        return ResNet.make_stage(BasicBlock, **stage_args)
    return ResNet.make_stage(
        BottleneckBlock,
        bottleneck_channels=bottleneck_channels,
        stride_in_1x1=resnets.STRIDE_IN_1X1,
        dilation=dilation,
        num_groups=resnets.NUM_GROUPS,
        **stage_args,
    )


def build_gn_det_resnet(cfg, input_shape):
    """A detectron2 ``ResNet`` with the stages that ``MODEL.RESNETS.OUT_FEATURES`` needs."""
    _check_resnet_config(cfg)
    resnets = cfg.MODEL.RESNETS
    stem = BasicStem(
        in_channels=input_shape.channels,
        out_channels=resnets.STEM_OUT_CHANNELS,
        norm=norm_from_config(cfg, "MODEL.RESNETS.NORM", "backbone stem"),
    )
    last_stage = max(int(name[len("res"):]) for name in resnets.OUT_FEATURES if name != "stem")
    in_channels = resnets.STEM_OUT_CHANNELS
    out_channels = resnets.RES2_OUT_CHANNELS
    bottleneck_channels = resnets.NUM_GROUPS * resnets.WIDTH_PER_GROUP
    stages = []
    for stage in range(2, last_stage + 1):
        stages.append(_stage_blocks(cfg, stage, in_channels, out_channels, bottleneck_channels))
        in_channels = out_channels
        out_channels *= 2
        bottleneck_channels *= 2
    resnet = ResNet(stem, stages, out_features=resnets.OUT_FEATURES)
    if cfg.MODEL.GN.WEIGHT_STANDARDIZATION:
        standardize_conv_weights(resnet)
    # Freeze after the norms are final; FREEZE_AT 0 (from scratch) trains every stage.
    resnet.freeze(cfg.MODEL.BACKBONE.FREEZE_AT)
    return fast_path_from_config(cfg, resnet)


@BACKBONE_REGISTRY.register()
def build_gn_det_resnet_backbone(cfg, input_shape):
    """ResNet backbone for C4 models (res5 runs in the RoI head)."""
    return build_gn_det_resnet(cfg, input_shape)


@BACKBONE_REGISTRY.register()
def build_gn_det_resnet_fpn_backbone(cfg, input_shape):
    """ResNet + FPN backbone; ``MODEL.FPN.NORM`` sets the norm of the lateral and output convs."""
    fpn = FPN(
        bottom_up=build_gn_det_resnet(cfg, input_shape),
        in_features=cfg.MODEL.FPN.IN_FEATURES,
        out_channels=cfg.MODEL.FPN.OUT_CHANNELS,
        norm=norm_from_config(cfg, "MODEL.FPN.NORM", "backbone.fpn"),
        top_block=LastLevelMaxPool(),
        fuse_type=cfg.MODEL.FPN.FUSE_TYPE,
    )
    if cfg.MODEL.GN.WEIGHT_STANDARDIZATION:
        standardize_conv_weights(fpn)
    return fast_path_from_config(cfg, fpn)

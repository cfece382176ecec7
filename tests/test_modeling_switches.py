"""Each GN switch in the config really changes the built model; keys that would do nothing fail."""
import pytest
from detectron2.layers import FrozenBatchNorm2d
from detectron2.modeling import build_model
from torch import nn

from conftest import preset_cfg
from gn_det.layers import WeightStandardizedConv2d

FPN_BN = "mask_rcnn_R50_FPN_bnfrozen.yaml"
FPN_GN = "mask_rcnn_R50_FPN_gn.yaml"


def norms_under(model, prefix):
    return {type(module) for name, module in model.named_modules()
            if name.startswith(prefix) and name.endswith("norm")}


def build(name, *overrides):
    return build_model(preset_cfg(name, *overrides))


def test_resnets_norm_switches_stem_bottlenecks_and_shortcuts():
    gn, bn = build(FPN_GN), build(FPN_BN)
    for part in ("backbone.bottom_up.stem", "backbone.bottom_up.res2.0.conv",
                 "backbone.bottom_up.res3.0.shortcut", "backbone.bottom_up.res5.2.conv3"):
        assert norms_under(gn, part) == {nn.GroupNorm}, part
        assert norms_under(bn, part) == {FrozenBatchNorm2d}, part


def test_fpn_norm_switches_lateral_and_output_convs():
    assert norms_under(build(FPN_GN), "backbone.fpn_") == {nn.GroupNorm}
    assert norms_under(build(FPN_GN, "MODEL.FPN.NORM", ""), "backbone.fpn_") == set()


@pytest.mark.parametrize("norm,expected", [("GN", {nn.GroupNorm}), ("BN", {nn.BatchNorm2d}),
                                           ("", set())])
def test_box_head_norm_switch(norm, expected):
    model = build(FPN_BN, "MODEL.ROI_BOX_HEAD.NORM", norm)
    assert norms_under(model, "roi_heads.box_head.conv") == expected
    assert (model.roi_heads.box_head.conv1.bias is None) == bool(norm)


def test_mask_head_norm_switch():
    assert norms_under(build(FPN_GN), "roi_heads.mask_head") == {nn.GroupNorm}
    assert norms_under(build(FPN_BN), "roi_heads.mask_head") == set()


def test_c4_resnets_norm_reaches_the_res5_head():
    assert norms_under(build("mask_rcnn_R50_C4_gn.yaml"), "roi_heads.res5") == {nn.GroupNorm}
    assert norms_under(build("mask_rcnn_R50_C4_bnfrozen.yaml"), "roi_heads.res5") == {
        FrozenBatchNorm2d}


@pytest.mark.parametrize("overrides,groups", [
    ((), 32),
    (("MODEL.GN.NUM_GROUPS", 16), 16),
    (("MODEL.GN.NUM_GROUPS", 1), 1),
    (("MODEL.GN.NUM_GROUPS", -1, "MODEL.GN.DIM_PER_GROUP", 8), 256 // 8),
])
def test_group_settings_reach_every_gn_layer(overrides, groups):
    model = build(FPN_GN, *overrides)
    group_norms = [m for m in model.modules() if isinstance(m, nn.GroupNorm)]
    fpn_norm = model.backbone.fpn_lateral2.norm  # 256 channels
    assert fpn_norm.num_groups == groups
    assert len(group_norms) == 53 + 8 + 4 + 4  # ResNet-50, FPN, box head, mask head
    if "MODEL.GN.DIM_PER_GROUP" not in overrides:
        assert {m.num_groups for m in group_norms} == {groups}


def test_ln_preset_has_one_group_everywhere():
    model = build("mask_rcnn_R50_C4_ln.yaml")
    assert {m.num_groups for m in model.modules() if isinstance(m, nn.GroupNorm)} == {1}


def test_weight_standardization_switch():
    ws = build(FPN_GN, "MODEL.GN.WEIGHT_STANDARDIZATION", True)
    plain = build(FPN_GN)
    ws_convs = [name for name, m in ws.named_modules() if isinstance(m, WeightStandardizedConv2d)]
    assert not any(isinstance(m, WeightStandardizedConv2d) for m in plain.modules())
    assert len(ws_convs) == 53 + 8 + 4 + 4
    assert list(ws.state_dict()) == list(plain.state_dict())


def test_freeze_at_zero_trains_every_stage_and_two_freezes_stem_and_res2():
    scratch = build("mask_rcnn_R50_FPN_gn_scratch.yaml")
    assert all(p.requires_grad for p in scratch.parameters())
    finetune = build(FPN_GN)
    frozen = {name.split(".")[2] for name, p in finetune.named_parameters() if not p.requires_grad}
    assert frozen == {"stem", "res2"}


def test_groups_not_dividing_channels_fail_at_build_naming_the_layer():
    with pytest.raises(ValueError, match=r"backbone stem.*NUM_GROUPS=48.*64 channels"):
        build(FPN_GN, "MODEL.GN.NUM_GROUPS", 48)


def test_box_head_norm_without_convs_is_an_error():
    with pytest.raises(ValueError, match=r"MODEL.ROI_BOX_HEAD.NORM='GN' has no effect"):
        build("mask_rcnn_R50_FPN_bnfrozen_2fc.yaml", "MODEL.ROI_BOX_HEAD.NORM", "GN")


def test_c4_box_head_norm_is_an_error():
    with pytest.raises(ValueError, match=r"has no effect in a C4 model"):
        build("mask_rcnn_R50_C4_gn.yaml", "MODEL.ROI_BOX_HEAD.NORM", "GN")


@pytest.mark.parametrize("depth,blocks", [(18, 8), (34, 16), (50, 16), (101, 33), (152, 50)])
def test_every_resnet_depth_builds(depth, blocks):
    model = build(FPN_GN, "MODEL.RESNETS.DEPTH", depth, "MODEL.RESNETS.RES2_OUT_CHANNELS",
                  64 if depth < 50 else 256)
    bottom_up = model.backbone.bottom_up
    assert sum(len(stage) for stage in bottom_up.stages) == blocks

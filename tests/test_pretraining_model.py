"""The pretraining classifier is the detection config's ResNet: its weight file loads into the
detection model with every ResNet tensor covered (strict mode), and computes the same features."""
import pytest
import torch
from detectron2.modeling import build_model

from conftest import preset_cfg
from gn_det.checkpoint import load_weights
from gn_det.checkpoint.coverage import RESNET_GROUPS
from gn_det.pretraining import ResNetClassifier, backbone_weights
from gn_det.pretraining.model import norm_name

ABLATION = "shapes_mask_rcnn_R18_FPN_ablation.yaml"
# (preset, overrides, pretraining norm in words): GN, BN* (FrozenBN, pretrained as BN), BN in
# training mode, GN+WS, channels per group, a C4 model (res5 in the RoI head), a COCO BN* preset.
VARIANTS = [
    (ABLATION, [], "GN (8 groups)"),
    (ABLATION, ["MODEL.RESNETS.NORM", "FrozenBN"], "BN"),
    (ABLATION, ["MODEL.RESNETS.NORM", "BN"], "BN"),
    (ABLATION, ["MODEL.GN.WEIGHT_STANDARDIZATION", "True"], "GN+WS (8 groups)"),
    (ABLATION, ["MODEL.GN.NUM_GROUPS", "-1", "MODEL.GN.DIM_PER_GROUP", "16"],
     "GN (16 channels per group)"),
    ("mask_rcnn_R50_C4_gn.yaml", [], "GN (32 groups)"),
    ("mask_rcnn_R50_FPN_bnfrozen.yaml", [], "BN"),
]


def saved_weights(classifier, cfg, path):
    torch.save(backbone_weights(classifier, cfg), path)
    return str(path)


@pytest.mark.parametrize("preset, overrides, norm", VARIANTS,
                         ids=[f"{p}:{' '.join(o)}" for p, o, _ in VARIANTS])
def test_weights_cover_the_detection_models_resnet_in_strict_mode(preset, overrides, norm,
                                                                   tmp_path):
    cfg = preset_cfg(preset, *overrides)
    path = saved_weights(ResNetClassifier(cfg, num_classes=20), cfg, tmp_path / "weights.pth")

    report = load_weights(build_model(cfg), path, strict_backbone=True)

    counts = report.group_counts()
    assert all(counts[group]["loaded"] == counts[group]["in model"] > 0 for group in RESNET_GROUPS)
    assert report.unloaded_resnet_keys() == [] and report.unexpected == [] and report.hints == []
    assert norm_name(cfg) == norm


@pytest.mark.parametrize("overrides", [[], ["MODEL.RESNETS.NORM", "FrozenBN"],
                                       ["MODEL.GN.WEIGHT_STANDARDIZATION", "True"]])
def test_detection_backbone_computes_what_the_pretrained_resnet_computes(overrides, tmp_path):
    cfg = preset_cfg(ABLATION, "MODEL.FAST_PATH.ENABLED", "False", *overrides)
    classifier = ResNetClassifier(cfg, num_classes=20)
    for module in classifier.modules():  # statistics and gammas as after training, not at init
        if isinstance(module, (torch.nn.BatchNorm2d, torch.nn.GroupNorm)):
            torch.nn.init.uniform_(module.weight, 0.5, 1.5)
        if isinstance(module, torch.nn.BatchNorm2d):
            module.running_mean.uniform_(-1, 1)
            module.running_var.uniform_(0.5, 2)
    model = build_model(cfg)
    load_weights(model, saved_weights(classifier, cfg, tmp_path / "w.pth"), strict_backbone=True)
    images = torch.randn(2, 3, 64, 64)

    with torch.no_grad():
        expected = classifier.eval().trunk(images)["res5"]
        actual = model.eval().backbone.bottom_up(images)["res5"]

    torch.testing.assert_close(actual, expected)


def test_each_residual_blocks_last_norm_starts_at_zero():
    classifier = ResNetClassifier(preset_cfg(ABLATION), num_classes=20)
    state = classifier.trunk.state_dict()

    assert state["res2.0.conv2.norm.weight"].abs().sum() == 0
    assert state["res5.1.conv2.norm.weight"].abs().sum() == 0
    assert (state["res2.0.conv1.norm.weight"] == 1).all()
    assert (state["res3.0.shortcut.norm.weight"] == 1).all()

"""torchvision/timm ResNet checkpoints with GN (timm's resnet50_gn naming: bn1..3 are GroupNorm)."""
import os

import detectron2
import pytest
import torch
import torchvision
from detectron2.config import get_cfg
from detectron2.modeling import build_model
from torch import nn

from gn_det.checkpoint import load_weights, torchvision_resnet

GN_FPN = os.path.join(os.path.dirname(detectron2.__file__), "model_zoo", "configs", "Misc",
                      "mask_rcnn_R_50_FPN_3x_gn.yaml")


def gn_fpn_model(*overrides):
    cfg = get_cfg()
    cfg.merge_from_file(GN_FPN)
    cfg.merge_from_list(["MODEL.DEVICE", "cpu", *overrides])
    return build_model(cfg).eval()


def resnet50_gn():
    """torchvision's ResNet-50 with GroupNorm(32): the layout and names of timm's resnet50_gn."""
    resnet = torchvision.models.resnet50(norm_layer=lambda channels: nn.GroupNorm(32, channels))
    with torch.no_grad():
        for index, parameter in enumerate(resnet.parameters()):
            parameter.copy_(torch.randn_like(parameter) * 0.05 + index)
    return resnet.eval()


@pytest.fixture(scope="module")
def torchvision_file(tmp_path_factory):
    resnet = resnet50_gn()
    path = str(tmp_path_factory.mktemp("timm") / "resnet50_gn.pth")
    torch.save(resnet.state_dict(), path)
    return resnet, path


def test_every_resnet_tensor_lands_in_the_bottom_up_backbone(torchvision_file):
    resnet, path = torchvision_file
    model = gn_fpn_model(*torchvision_resnet.config_overrides())

    report = load_weights(model, path, strict_backbone=True)

    state_dict = model.state_dict()
    for name, tensor in resnet.state_dict().items():
        if not name.startswith("fc."):
            key = "backbone.bottom_up." + torchvision_resnet.detectron2_name(name)
            assert torch.equal(state_dict[key], tensor), name
    counts = report.group_counts()
    assert all(counts[group]["loaded"] == counts[group]["in model"]
               for group in ("stem", "res2", "res3", "res4", "res5"))
    assert not report.unexpected and not report.mismatched and not report.hints
    assert set(report.ignored) == {"fc.weight", "fc.bias"}


def test_loaded_backbone_computes_what_torchvision_computes(torchvision_file):
    resnet, path = torchvision_file
    model = gn_fpn_model(*torchvision_resnet.config_overrides())
    load_weights(model, path)
    image = torch.randn(1, 3, 64, 64)

    with torch.no_grad():
        expected = nn.Sequential(*list(resnet.children())[:-2])(image)
        actual = model.backbone.bottom_up(image)["res5"]

    torch.testing.assert_close(actual, expected, rtol=1e-4, atol=1e-4)


def test_model_with_detectron_input_conventions_gets_a_hint(torchvision_file):
    _, path = torchvision_file

    report = load_weights(gn_fpn_model(), path)

    assert len(report.hints) == 1
    assert "INPUT.FORMAT RGB (the model has BGR)" in report.hints[0]
    assert "MODEL.PIXEL_STD [58.395, 57.12, 57.375]" in report.hints[0]


def test_batchnorm_resnet_in_gn_model_hints_at_norm(tmp_path):
    path = str(tmp_path / "resnet50.pth")
    torch.save({"state_dict": torchvision.models.resnet50().state_dict()}, path)

    report = load_weights(gn_fpn_model(*torchvision_resnet.config_overrides()), path)

    assert report.unloaded_resnet_keys() == []
    assert any("BatchNorm statistics" in hint for hint in report.hints)
    assert "layer1.0.bn1.num_batches_tracked" in report.ignored

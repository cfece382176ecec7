"""tools/weights_coverage.py and tools/convert_weights.py on a synthetic timm-style ResNet-50-GN."""
import importlib.util
import os

import detectron2
import pytest
import torch
import torchvision
from detectron2.checkpoint import DetectionCheckpointer
from detectron2.config import get_cfg
from detectron2.modeling import build_model
from torch import nn

from gn_det.checkpoint import BackboneWeightsError, torchvision_resnet

TOOLS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools")
GN_FPN = os.path.join(os.path.dirname(detectron2.__file__), "model_zoo", "configs", "Misc",
                      "mask_rcnn_R_50_FPN_3x_gn.yaml")
OVERRIDES = [str(item) for item in torchvision_resnet.config_overrides()]


def load_tool(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(TOOLS, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def resnet50_gn_file(tmp_path_factory):
    resnet = torchvision.models.resnet50(norm_layer=lambda channels: nn.GroupNorm(32, channels))
    path = str(tmp_path_factory.mktemp("weights") / "resnet50_gn.pth")
    torch.save(resnet.state_dict(), path)
    return path


def test_weights_coverage_prints_the_report(resnet50_gn_file, capsys):
    report = load_tool("weights_coverage").main(
        ["--config-file", GN_FPN, "--weights", resnet50_gn_file, "--strict-backbone", *OVERRIDES])

    printed = capsys.readouterr().out
    assert printed.startswith(f"Weights coverage of {resnet50_gn_file} (torchvision/timm ResNet)")
    assert "| res4      |         57 |       57 |" in printed
    assert report.unloaded_resnet_keys() == []


def test_weights_coverage_strict_backbone_fails_on_a_deeper_model(resnet50_gn_file, capsys):
    with pytest.raises(BackboneWeightsError, match="set MODEL.RESNETS.DEPTH 50"):
        load_tool("weights_coverage").main(
            ["--config-file", GN_FPN, "--weights", resnet50_gn_file, "--strict-backbone",
             *OVERRIDES, "MODEL.RESNETS.DEPTH", "101"])

    assert "| res4      |        210 |       57 |       153 |" in capsys.readouterr().out


def test_converted_file_loads_by_name_with_detectron2s_checkpointer(resnet50_gn_file, tmp_path):
    output = str(tmp_path / "resnet50_gn_d2.pth")
    load_tool("convert_weights").main(
        ["--config-file", GN_FPN, "--weights", resnet50_gn_file, "--output", output, *OVERRIDES])
    cfg = get_cfg()
    cfg.merge_from_file(GN_FPN)
    cfg.MODEL.DEVICE = "cpu"
    model = build_model(cfg)

    DetectionCheckpointer(model).load(output)

    original = torch.load(resnet50_gn_file)
    assert torch.equal(model.backbone.bottom_up.res4[5].conv3.norm.bias,
                       original["layer3.5.bn3.bias"])
    saved = torch.load(output)
    assert saved["matching_heuristics"] is False
    assert all(key.startswith("backbone.bottom_up.") for key in saved["model"])

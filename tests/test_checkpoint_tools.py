"""tools/weights_coverage.py and tools/convert_weights.py on a synthetic timm-style ResNet-50-GN."""
import importlib.util
import os
import subprocess
import sys

import detectron2
import pytest
import torch
import torchvision
from detectron2.checkpoint import DetectionCheckpointer
from detectron2.config import get_cfg
from detectron2.modeling import build_model
from torch import nn

from gn_det.checkpoint import BackboneWeightsError, export, torchvision_resnet

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


@pytest.fixture(scope="module")
def resnet50_bn_file(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("weights") / "resnet50_bn.pth")
    torch.save(torchvision.models.resnet50().state_dict(), path)
    return path


def test_convert_refuses_weights_of_the_wrong_norm_with_exit_1_and_no_file(resnet50_bn_file,
                                                                           tmp_path):
    output = tmp_path / "out.pth"
    finished = subprocess.run(
        [sys.executable, os.path.join(TOOLS, "convert_weights.py"), "--config-file", GN_FPN,
         "--weights", resnet50_bn_file, "--output", str(output), *OVERRIDES],
        capture_output=True, text=True, timeout=300)

    assert finished.returncode == 1
    last_line = finished.stderr.strip().splitlines()[-1]
    assert last_line.startswith(f"gn_det: error: not writing {output}: ")
    assert "wrong norm" in last_line and "--force" in last_line
    assert "Traceback" not in finished.stderr
    assert not output.exists()


def test_convert_with_force_writes_what_loaded(resnet50_bn_file, tmp_path):
    output = str(tmp_path / "out.pth")

    report = load_tool("convert_weights").main(
        ["--config-file", GN_FPN, "--weights", resnet50_bn_file, "--output", output, "--force",
         *OVERRIDES])

    assert any("wrong norm" in hint for hint in report.hints)
    assert sorted(torch.load(output)["model"]) == sorted(report.loaded)


def test_convert_creates_the_output_folder(resnet50_gn_file, tmp_path):
    output = tmp_path / "missing" / "dir" / "x.pth"

    load_tool("convert_weights").main(
        ["--config-file", GN_FPN, "--weights", resnet50_gn_file, "--output", str(output),
         *OVERRIDES])

    assert output.is_file()


def test_convert_fails_on_an_unwritable_output_before_building_the_model(tmp_path,
                                                                         monkeypatch):
    (tmp_path / "a_file").write_text("")
    tool = load_tool("convert_weights")
    monkeypatch.setattr(tool, "build_model", lambda cfg: pytest.fail("model built"))

    with pytest.raises(export.ConversionRefusedError, match="cannot write --output .*a_file/x.pth"):
        tool.main(["--config-file", GN_FPN, "--weights", "unused.pkl",
                   "--output", str(tmp_path / "a_file" / "x.pth")])


@pytest.mark.parametrize("tool", ["convert_weights", "weights_coverage"])
def test_tools_take_the_trust_flag_the_pickle_refusal_names(tool):
    args = load_tool(tool).argument_parser().parse_args(
        ["--config-file", GN_FPN, "--weights", "w.pkl", "--output", "o.pth", "--trust-pickles"]
        if tool == "convert_weights" else
        ["--config-file", GN_FPN, "--weights", "w.pkl", "--trust-pickles"])

    assert args.trust_pickles is True

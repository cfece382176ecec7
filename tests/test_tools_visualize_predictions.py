"""tools/visualize_predictions.py loads weights with gn_det's checkpointer: a missing file or
weights that do not cover the model stop it with one line, before any picture is drawn."""
import os

import pytest
import torch

from conftest import preset_cfg
from gn_det.engine import Trainer
from gn_det.errors import USER_ERRORS
from test_tools_train_net import DEMO_CONFIG, load_tool, run_tool

DEMO = os.path.basename(DEMO_CONFIG)


def test_a_missing_weights_file_is_one_line_without_traceback(tmp_path):
    result = run_tool("tools/visualize_predictions.py", "--config-file", DEMO_CONFIG,
                      "--weights", str(tmp_path / "missing.pth"), "--output-dir", str(tmp_path))
    assert result.returncode != 0
    assert f"gn_det: error: Weights file not found: {tmp_path / 'missing.pth'}." in result.stderr
    assert "Traceback" not in result.stderr


def resnet_stem_only(state):
    return {"backbone.bottom_up.stem.conv1.weight": state["backbone.bottom_up.stem.conv1.weight"]}


def resnet_only(state):  # ImageNet weights: no FPN, RPN or heads
    return {key: value for key, value in state.items() if key.startswith("backbone.bottom_up.")}


@pytest.mark.parametrize("make_weights,message", [
    # GN_DET.STRICT_BACKBONE_WEIGHTS, which detectron2's plain checkpointer ignored.
    (resnet_stem_only, r"^Strict backbone loading refuses \S+weights\.pth \(detectron2\): 59 "
                       r"ResNet tensors of the model would keep their random initialization"),
    (resnet_only, r"^\S+weights\.pth \(detectron2\) leaves 64 of 124 model tensors at random "
                  r"initialization \(FPN 24 of 24, RPN 6 of 6, box head 18 of 18, mask head 16 of "
                  r"16\)"),
])
def test_weights_that_do_not_cover_the_model_draw_no_pictures(small_shapes, tmp_path,
                                                              make_weights, message):
    weights = tmp_path / "weights.pth"
    torch.save({"model": make_weights(Trainer.build_model(preset_cfg(DEMO)).state_dict())},
               weights)
    tool = load_tool("visualize_predictions")
    args = tool.argument_parser().parse_args(
        ["--config-file", DEMO_CONFIG, "--weights", str(weights), "--dataset", "shapes_val",
         "--output-dir", str(tmp_path / "pictures"), "MODEL.DEVICE", "cpu"])
    with pytest.raises(USER_ERRORS, match=message):
        tool.main(args)
    assert not (tmp_path / "pictures").exists()

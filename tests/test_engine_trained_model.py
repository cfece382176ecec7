"""Evaluation and pictures refuse models whose weights do not cover them (AP ~0 from a random
model is no result), and --eval-only checks the COCO evaluation backend as training does."""
import sys

import pytest
import torch

from conftest import preset_cfg
from gn_det.engine import Trainer
from gn_det.engine.trained_model import (
    TrainedModelPredictor,
    UntrainedModelError,
    evaluate_trained_model,
    load_trained_model,
)
from gn_det.errors import USER_ERRORS, ConfigError
from gn_det.evaluation import BackendNotInstalledError

DEMO = "shapes_mask_rcnn_R18_FPN_gn.yaml"


@pytest.fixture(scope="module")
def trained_state():
    """The demo model's state dict (random, but complete: what a trained checkpoint holds)."""
    torch.manual_seed(0)
    return Trainer.build_model(preset_cfg(DEMO)).state_dict()


def backbone_only(state):
    # What ImageNet weights give a Mask R-CNN: the ResNet and nothing else.
    return {key: value for key, value in state.items() if key.startswith("backbone.bottom_up.")}


def other_num_classes(state):
    # A checkpoint of a config with 3 classes instead of 5: the predictors do not fit.
    changed = dict(state)
    for key, value in state.items():
        if "box_predictor" in key or "mask_head.predictor" in key:
            changed[key] = value[: 1 + 3 * value.shape[0] // 6] if "bbox_pred" in key else value[:4]
    return changed


@pytest.mark.parametrize("make_weights,message", [
    (backbone_only,
     r"^\S+weights\.pth \(detectron2\) leaves 64 of 124 model tensors at random initialization "
     r"\(FPN 24 of 24, RPN 6 of 6, box head 18 of 18, mask head 16 of 16\): it is not a trained "
     r"model for this config, and its AP would be meaningless\. Pass the weights of a model "
     r"trained with this config, e\.g\. MODEL\.WEIGHTS output/model_final\.pth"),
    (other_num_classes, r"leaves 6 of 124 model tensors at random initialization \(box head 4 of "
                        r"18, mask head 2 of 16\)"),
])
def test_weights_that_leave_part_of_the_model_at_initialization_are_refused(
        trained_state, tmp_path, make_weights, message):
    weights = tmp_path / "weights.pth"
    torch.save({"model": make_weights(trained_state)}, weights)
    with pytest.raises(UntrainedModelError, match=message):
        load_trained_model(preset_cfg(DEMO, "MODEL.WEIGHTS", str(weights)))


def test_empty_weights_are_refused_and_complete_ones_load_in_eval_mode(trained_state, tmp_path):
    with pytest.raises(UntrainedModelError, match=r"^No weights to evaluate: MODEL\.WEIGHTS is "
                                                  r"empty.*--resume to use OUTPUT_DIR's last"):
        load_trained_model(preset_cfg(DEMO), resume=False)
    # Tools without --resume (export, predict) do not suggest it.
    with pytest.raises(UntrainedModelError, match=r"model_final\.pth\.$"):
        load_trained_model(preset_cfg(DEMO))
    weights = tmp_path / "model_final.pth"
    torch.save({"model": trained_state}, weights)
    model = load_trained_model(preset_cfg(DEMO, "MODEL.WEIGHTS", str(weights)))
    assert not model.training
    assert all(torch.equal(value, trained_state[key]) for key, value in model.state_dict().items())
    assert issubclass(UntrainedModelError, USER_ERRORS)


@pytest.mark.parametrize("backend,error,message", [
    ("cocoapi", ConfigError, r"TEST\.COCO_EVAL_BACKEND='cocoapi' is not a COCO evaluation "
                             r"backend; use one of \['pycocotools', 'faster_coco_eval'\]"),
    ("faster_coco_eval", BackendNotInstalledError,
     r"needs the faster-coco-eval package: pip install 'gn_det\[fast-eval\]'"),
])
def test_eval_only_checks_the_evaluation_backend_before_loading_anything(
        monkeypatch, backend, error, message):
    monkeypatch.setitem(sys.modules, "faster_coco_eval", None)  # not installed
    cfg = preset_cfg(DEMO, "TEST.COCO_EVAL_BACKEND", backend, "MODEL.WEIGHTS", "missing.pth")
    with pytest.raises(error, match=message):
        evaluate_trained_model(cfg)
    assert issubclass(error, USER_ERRORS)


def test_the_predictor_loads_with_gn_dets_checkpointer(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"^Weights file not found: \S+missing\.pth\. "):
        TrainedModelPredictor(preset_cfg(DEMO, "MODEL.WEIGHTS", str(tmp_path / "missing.pth")))
    with pytest.raises(UntrainedModelError, match="No weights to evaluate"):
        TrainedModelPredictor(preset_cfg(DEMO))

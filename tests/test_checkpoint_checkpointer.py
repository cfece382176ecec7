"""GNDetCheckpointer on detectron2-format files: model zoo .pkl, .pth checkpoints, state dicts."""
import os
import pickle

import detectron2
import pytest
import torch
from detectron2.config import get_cfg
from detectron2.modeling import build_model

from gn_det.checkpoint import (
    COVERAGE_REPORT_KEY,
    BackboneWeightsError,
    GNDetCheckpointer,
    UnsupportedWeightsFormatError,
    load_weights,
)
from gn_det.checkpoint.formats import DETECTRON2_FORMAT

GN_FPN = os.path.join(os.path.dirname(detectron2.__file__), "model_zoo", "configs", "Misc",
                      "mask_rcnn_R_50_FPN_3x_gn.yaml")
# A small full-GN Mask R-CNN (ResNet-18, narrow FPN and heads): same names, quick to save.
SMALL = ["MODEL.RESNETS.DEPTH", 18, "MODEL.RESNETS.RES2_OUT_CHANNELS", 64,
         "MODEL.FPN.OUT_CHANNELS", 64, "MODEL.ROI_BOX_HEAD.CONV_DIM", 64,
         "MODEL.ROI_BOX_HEAD.FC_DIM", 64, "MODEL.ROI_MASK_HEAD.CONV_DIM", 64]


def small_gn_model():
    cfg = get_cfg()
    cfg.merge_from_file(GN_FPN)
    cfg.merge_from_list(["MODEL.DEVICE", "cpu", *SMALL])
    return build_model(cfg)


def distinct_state_dict(model):
    """The model's state dict with tensor i filled with i (every tensor tells where it went)."""
    return {key: torch.full_like(value, float(index))
            for index, (key, value) in enumerate(model.state_dict().items())}


def assert_holds(model, state_dict):
    for key, value in model.state_dict().items():
        assert torch.equal(value, state_dict[key]), key


def test_detectron2_model_zoo_pkl_with_numpy_arrays_loads_by_name(tmp_path):
    model = small_gn_model()
    weights = distinct_state_dict(model)
    path = str(tmp_path / "model_final_zoo.pkl")
    with open(path, "wb") as file:
        pickle.dump({"model": {key: value.numpy() for key, value in weights.items()},
                     "__author__": "Detectron2 Model Zoo"}, file)

    report = load_weights(model, path, strict_backbone=True)

    assert_holds(model, weights)
    assert report.format == DETECTRON2_FORMAT
    assert len(report.loaded) == len(report.model_keys) and not report.unexpected


def test_zoo_backbone_with_matching_heuristics_is_placed_by_suffix(tmp_path):
    model = small_gn_model()
    bottom_up = {key[len("backbone.bottom_up."):]: value
                 for key, value in distinct_state_dict(model).items() if ".bottom_up." in key}
    path = str(tmp_path / "R-18.pkl")
    with open(path, "wb") as file:
        pickle.dump({"model": {key: value.numpy() for key, value in bottom_up.items()},
                     "__author__": "torchvision", "matching_heuristics": True}, file)

    report = load_weights(model, path, strict_backbone=True)

    assert torch.equal(model.backbone.bottom_up.res3[1].conv2.weight,
                       bottom_up["res3.1.conv2.weight"])
    assert report.group_counts()["FPN"]["missing"] == report.group_counts()["FPN"]["in model"]


def test_gn_det_checkpoint_resumes_model_optimizer_and_iteration(tmp_path):
    model = small_gn_model()
    weights = distinct_state_dict(model)
    model.load_state_dict(weights)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.02, momentum=0.9)
    GNDetCheckpointer(model, str(tmp_path), optimizer=optimizer).save("model_0000009", iteration=9)
    resumed_model = small_gn_model()
    resumed_optimizer = torch.optim.SGD(resumed_model.parameters(), lr=0.5, momentum=0.9)

    result = GNDetCheckpointer(resumed_model, str(tmp_path), optimizer=resumed_optimizer,
                               strict_backbone=True).resume_or_load("ignored.pkl", resume=True)

    assert_holds(resumed_model, weights)
    assert result["iteration"] == 9
    assert resumed_optimizer.param_groups[0]["lr"] == 0.02
    assert result[COVERAGE_REPORT_KEY].format == DETECTRON2_FORMAT


def test_bare_state_dict_saved_from_ddp_loads(tmp_path):
    model = small_gn_model()
    weights = distinct_state_dict(model)
    path = str(tmp_path / "ddp.pth")
    torch.save({"module." + key: value for key, value in weights.items()}, path)

    load_weights(model, path, strict_backbone=True)

    assert_holds(model, weights)


def test_no_weights_means_scratch_without_a_report():
    assert GNDetCheckpointer(small_gn_model(), strict_backbone=True).load("") == {}


def test_file_without_a_state_dict_is_rejected_with_the_supported_formats(tmp_path):
    path = str(tmp_path / "list.pkl")
    with open(path, "wb") as file:
        pickle.dump([1, 2, 3], file)

    with pytest.raises(UnsupportedWeightsFormatError, match="holds a list.*Supported: Detectron"):
        load_weights(small_gn_model(), path)


def test_names_matching_nothing_fail_strict_mode_as_unknown_format(tmp_path):
    path = str(tmp_path / "other.pth")
    torch.save({"encoder.block1.weight": torch.zeros(3), "decoder.head.bias": torch.zeros(2)}, path)

    with pytest.raises(BackboneWeightsError, match="none of the file's 2 entries matched"):
        load_weights(small_gn_model(), path, strict_backbone=True)


def test_shape_mismatch_is_reported_and_not_loaded(tmp_path):
    model = small_gn_model()
    weights = distinct_state_dict(model)
    weights["roi_heads.box_predictor.cls_score.weight"] = torch.zeros(2, 64)
    path = str(tmp_path / "two_classes.pth")
    torch.save({"model": weights}, path)
    initial = model.roi_heads.box_predictor.cls_score.weight.clone()

    report = load_weights(model, path, strict_backbone=True)

    assert [m.key for m in report.mismatched] == ["roi_heads.box_predictor.cls_score.weight"]
    assert report.group_counts()["box head"]["shape mismatch"] == 1
    assert torch.equal(model.roi_heads.box_predictor.cls_score.weight, initial)

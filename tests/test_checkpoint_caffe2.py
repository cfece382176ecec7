"""Detectron (Caffe2) weight files, built from the model definitions (the real ones cannot be
downloaded here): blob names and shapes as Detectron's builders make them, one value pattern per
blob, 81-class heads with the background first, ``_momentum`` entries and ``'cfg'``."""
import os
import pickle
import re

import detectron2
import numpy as np
import pytest
import torch
from detectron2.config import get_cfg
from detectron2.modeling import build_model

from gn_det.checkpoint import BackboneWeightsError, GNDetCheckpointer, caffe2, load_weights

ZOO_CONFIGS = os.path.join(os.path.dirname(detectron2.__file__), "model_zoo", "configs")
GN_FPN = "Misc/mask_rcnn_R_50_FPN_3x_gn.yaml"
BN_FPN = "COCO-InstanceSegmentation/mask_rcnn_R_50_FPN_3x.yaml"

_MODEL_PREFIX = re.compile(
    r"^(backbone\.bottom_up\.|backbone\.|roi_heads\.|proposal_generator\.rpn_head\.)")
_PARAMETER = re.compile(r"^(?P<layer>.+?)\.(?P<param>norm\.weight|norm\.bias|weight|bias)$")
_BLOB_SUFFIX = {"weight": "_w", "bias": "_b", "norm.weight": "_gn_s", "norm.bias": "_gn_b"}
_FIXED_LAYERS = {
    "stem.conv1": "conv1",
    "conv": "conv_rpn_fpn2",
    "objectness_logits": "rpn_cls_logits_fpn2",
    "anchor_deltas": "rpn_bbox_pred_fpn2",
    "box_head.fc1": "fc6",
    "box_predictor.cls_score": "cls_score",
    "box_predictor.bbox_pred": "bbox_pred",
    "mask_head.deconv": "conv5_mask",
    "mask_head.predictor": "mask_fcn_logits",
}
# Detectron's class-indexed outputs start with the background's rows. detectron2 drops them from
# the box and mask outputs and moves them last in cls_score (which keeps 81 rows).
BACKGROUND_ROWS_DROPPED = {"bbox_pred": 4, "mask_fcn_logits": 1}


def build(config, *overrides):
    cfg = get_cfg()
    cfg.merge_from_file(os.path.join(ZOO_CONFIGS, config))
    cfg.merge_from_list(["MODEL.DEVICE", "cpu", *overrides])
    return build_model(cfg)


def _last_blocks(model_keys):
    last = {}
    for key in model_keys:
        match = re.search(r"res(\d)\.(\d+)\.", key)
        if match:
            last[match[1]] = max(last.get(match[1], 0), int(match[2]))
    return last


def _detectron_layer(layer, last_block):
    if layer in _FIXED_LAYERS:
        return _FIXED_LAYERS[layer]
    rules = (
        (r"res(\d)\.(\d+)\.conv(\d)", lambda m: f"res{m[1]}_{m[2]}_branch2{'abc'[int(m[3]) - 1]}"),
        (r"res(\d)\.(\d+)\.shortcut", lambda m: f"res{m[1]}_{m[2]}_branch1"),
        # The coarsest lateral conv seeds the top-down path; the others are "<sum>_lateral".
        (r"fpn_lateral(\d)", lambda m: f"fpn_inner_res{m[1]}_{last_block[m[1]]}_sum"
                                       + ("" if m[1] == "5" else "_lateral")),
        (r"fpn_output(\d)", lambda m: f"fpn_res{m[1]}_{last_block[m[1]]}_sum"),
        (r"box_head\.conv(\d)", lambda m: f"head_conv{m[1]}"),
        (r"mask_head\.mask_fcn(\d)", lambda m: f"_mask_fcn{m[1]}"),
    )
    for pattern, name in rules:
        match = re.fullmatch(pattern, layer)
        if match:
            return name(match)
    raise AssertionError(f"no Detectron name for {layer}")


def detectron_blob_names(model_keys):
    """{Detectron blob name: model key} for every parameter, as Detectron's builders name them."""
    last_block = _last_blocks(model_keys)
    names = {}
    for key in model_keys:
        match = _PARAMETER.match(_MODEL_PREFIX.sub("", key))
        names[_detectron_layer(match["layer"], last_block) + _BLOB_SUFFIX[match["param"]]] = key
    return names


def _detectron_shape(blob, model_shape):
    layer = blob.rsplit("_", 1)[0]
    dropped_rows = BACKGROUND_ROWS_DROPPED.get(layer, 0)
    return (model_shape[0] + dropped_rows,) + tuple(model_shape[1:])


def detectron_blobs(model_state_dict, blob_names):
    """Blob arrays of Detectron's shapes; blob i holds i + (element index mod 1000) / 1000."""
    blobs = {}
    for index, (blob, key) in enumerate(sorted(blob_names.items()), start=1):
        shape = _detectron_shape(blob, tuple(model_state_dict[key].shape))
        pattern = (np.arange(int(np.prod(shape))) % 1000) / 1000.0
        blobs[blob] = (index + pattern).astype(np.float32).reshape(shape)
    return blobs


def expected_tensor(blob, array):
    """What detectron2's layout makes of a Detectron blob: background last or dropped."""
    layer = blob.rsplit("_", 1)[0]
    if layer == "cls_score":
        return np.concatenate([array[1:], array[:1]])
    return array[BACKGROUND_ROWS_DROPPED.get(layer, 0):]


def resnet_blob_names(model_keys):
    return {blob: key for blob, key in detectron_blob_names(model_keys).items()
            if ".bottom_up." in key}


def imagenet_file(model, path, blob_names=None, wrap_in_blobs=True):
    """A Detectron ImageNet GN ResNet file for ``model``'s ResNet, with the 1000-way classifier."""
    state_dict = model.state_dict()
    blobs = detectron_blobs(state_dict, blob_names or resnet_blob_names(state_dict))
    blobs["pred_w"] = np.ones((1000, 2048), np.float32)
    blobs["pred_b"] = np.ones(1000, np.float32)
    _write_python2_style(path, {"blobs": blobs} if wrap_in_blobs else blobs)
    return blobs


def mask_rcnn_file(model, path):
    """A Detectron GN Mask R-CNN file for ``model``: 81-class heads, momentum, training config."""
    state_dict = model.state_dict()
    blobs = detectron_blobs(state_dict, detectron_blob_names(state_dict))
    blobs.update({f"{name}_momentum": np.zeros_like(array) for name, array in list(blobs.items())})
    _write_python2_style(path, {"blobs": blobs, "cfg": "MODEL:\n  TYPE: generalized_rcnn\n"})
    return {name: array for name, array in blobs.items() if not name.endswith("_momentum")}


def _write_python2_style(path, data):
    with open(path, "wb") as file:
        pickle.dump(data, file, protocol=2)


@pytest.fixture(scope="module")
def gn_model():
    return build(GN_FPN)


def assert_loaded(model, blobs, blob_names):
    state_dict = model.state_dict()
    for blob, key in blob_names.items():
        assert torch.equal(state_dict[key], torch.from_numpy(expected_tensor(blob, blobs[blob]))), \
            f"{blob} did not land in {key}"


def test_imagenet_gn_file_fills_the_whole_resnet_and_ignores_the_classifier(gn_model, tmp_path):
    path = str(tmp_path / "R-50-GN.pkl")
    blobs = imagenet_file(gn_model, path)

    report = load_weights(gn_model, path, strict_backbone=True)

    assert_loaded(gn_model, blobs, resnet_blob_names(gn_model.state_dict()))
    counts = report.group_counts()
    for group in ("stem", "res2", "res3", "res4", "res5"):
        assert counts[group]["loaded"] == counts[group]["in model"] > 0
    assert counts["FPN"]["missing"] == counts["FPN"]["in model"]
    assert not report.unexpected and not report.mismatched
    assert set(report.ignored) == {"pred_w", "pred_b"}
    assert report.format == caffe2.FORMAT and not report.hints


def test_imagenet_file_without_blobs_wrapper_loads_the_same(gn_model, tmp_path):
    path = str(tmp_path / "R-50-GN-flat.pkl")
    blobs = imagenet_file(gn_model, path, wrap_in_blobs=False)

    report = load_weights(gn_model, path, strict_backbone=True)

    assert_loaded(gn_model, blobs, resnet_blob_names(gn_model.state_dict()))
    assert set(report.ignored) == {"pred_w", "pred_b"}


def test_gn_mask_rcnn_file_loads_every_tensor_with_detectron2_class_layout(gn_model, tmp_path):
    path = str(tmp_path / "model_final.pkl")
    blobs = mask_rcnn_file(gn_model, path)

    report = load_weights(gn_model, path, strict_backbone=True)

    assert_loaded(gn_model, blobs, detectron_blob_names(gn_model.state_dict()))
    assert len(report.loaded) == len(report.model_keys)
    assert not (report.missing or report.unexpected or report.mismatched)
    assert set(report.ignored) == {"cfg"} | {f"{name}_momentum" for name in blobs}


def test_class_rows_move_background_last_or_drop_it(gn_model, tmp_path):
    path = str(tmp_path / "model_final.pkl")
    blobs = mask_rcnn_file(gn_model, path)

    load_weights(gn_model, path)

    box, mask = gn_model.roi_heads.box_predictor, gn_model.roi_heads.mask_head
    blob = {name: torch.from_numpy(array) for name, array in blobs.items()}
    assert torch.equal(box.cls_score.weight[-1], blob["cls_score_w"][0])
    assert torch.equal(box.cls_score.weight[0], blob["cls_score_w"][1])
    assert torch.equal(box.bbox_pred.bias, blob["bbox_pred_b"][4:])
    assert torch.equal(mask.predictor.bias, blob["mask_fcn_logits_b"][1:])


def test_renamed_blob_fails_strict_mode_naming_parameter_and_blob(gn_model, tmp_path):
    model = build(GN_FPN)
    names = resnet_blob_names(model.state_dict())
    names["res3_1_branch2b_weights"] = names.pop("res3_1_branch2b_w")
    path = str(tmp_path / "renamed.pkl")
    imagenet_file(model, path, blob_names=names)
    before = model.backbone.bottom_up.res2[0].conv1.weight.clone()

    with pytest.raises(BackboneWeightsError) as error:
        load_weights(model, path, strict_backbone=True)

    message = str(error.value)
    assert "backbone.bottom_up.res3.1.conv2.weight: not in the file" in message
    assert "res3_1_branch2b_weights" in message
    assert torch.equal(model.backbone.bottom_up.res2[0].conv1.weight, before), "nothing is loaded"


def test_wrong_shape_fails_strict_mode_naming_both_shapes(gn_model, tmp_path):
    path = str(tmp_path / "wrong_shape.pkl")
    blobs = imagenet_file(gn_model, path)
    blobs["res4_0_branch2b_w"] = np.zeros((256, 256, 1, 1), np.float32)
    _write_python2_style(path, {"blobs": blobs})

    with pytest.raises(BackboneWeightsError, match=re.escape(
            "backbone.bottom_up.res4.0.conv2.weight: shape (256, 256, 1, 1) in the file "
            "(res4_0_branch2b_w), (256, 256, 3, 3) in the model")):
        load_weights(gn_model, path, strict_backbone=True)


def test_without_strict_mode_an_incomplete_file_loads_and_reports(gn_model, tmp_path):
    names = resnet_blob_names(gn_model.state_dict())
    del names["res5_2_branch2c_gn_s"]
    path = str(tmp_path / "incomplete.pkl")
    imagenet_file(gn_model, path, blob_names=names)

    report = load_weights(gn_model, path)

    assert report.unloaded_resnet_keys() == ["backbone.bottom_up.res5.2.conv3.norm.weight"]
    assert "res5: backbone.bottom_up.res5.2.conv3.norm.weight" in str(report)


def test_stride_in_1x1_model_gets_a_hint_for_fair_gn_weights(tmp_path):
    model = build(GN_FPN, "MODEL.RESNETS.STRIDE_IN_1X1", True)
    path = str(tmp_path / "R-50-GN.pkl")
    imagenet_file(model, path)

    report = load_weights(model, path, strict_backbone=True)

    assert len(report.hints) == 1
    assert "MODEL.RESNETS.STRIDE_IN_1X1 False (the model has True)" in report.hints[0]


def test_resnet101_file_in_resnet50_model_hints_at_depth(gn_model, tmp_path):
    path = str(tmp_path / "R-101-GN.pkl")
    imagenet_file(build(GN_FPN, "MODEL.RESNETS.DEPTH", 101), path)

    with pytest.raises(BackboneWeightsError) as error:
        load_weights(gn_model, path, strict_backbone=True)

    assert "(3, 4, 23, 3) (ResNet-101) blocks" in str(error.value)
    assert "set MODEL.RESNETS.DEPTH 101" in str(error.value)


def test_gn_file_in_frozen_bn_model_hints_at_norm(tmp_path):
    bn_model = build(BN_FPN, "MODEL.RESNETS.STRIDE_IN_1X1", False)
    gn_names = resnet_blob_names(build(GN_FPN).state_dict())
    path = str(tmp_path / "R-50-GN.pkl")
    imagenet_file(bn_model, path, blob_names=gn_names)

    with pytest.raises(BackboneWeightsError, match="MODEL.RESNETS.NORM GN"):
        load_weights(bn_model, path, strict_backbone=True)


def test_affine_bn_blobs_load_into_frozen_bn_as_mean_0_var_1(tmp_path):
    bn_model = build(BN_FPN)
    names = {blob.replace("_gn_", "_bn_"): key
             for blob, key in resnet_blob_names(build(GN_FPN).state_dict()).items()}
    # MSRA's ResNets name the stem's affine res_conv1_bn.
    names["res_conv1_bn_s"] = names.pop("conv1_bn_s")
    names["res_conv1_bn_b"] = names.pop("conv1_bn_b")
    path = str(tmp_path / "R-50.pkl")
    blobs = imagenet_file(bn_model, path, blob_names=names)

    report = load_weights(bn_model, path, strict_backbone=True)

    stem_norm = bn_model.backbone.bottom_up.stem.conv1.norm
    assert torch.equal(stem_norm.weight, torch.from_numpy(blobs["res_conv1_bn_s"]))
    assert torch.all(stem_norm.running_mean == 0) and torch.all(stem_norm.running_var == 1)
    assert not report.unloaded_resnet_keys() and not report.hints


def test_affine_bn_blobs_in_gn_model_hint_at_norm(gn_model, tmp_path):
    names = {blob.replace("_gn_", "_bn_"): key
             for blob, key in resnet_blob_names(gn_model.state_dict()).items()}
    path = str(tmp_path / "R-50.pkl")
    imagenet_file(gn_model, path, blob_names=names)

    report = load_weights(gn_model, path)

    assert any("Detectron BN blobs" in hint for hint in report.hints)


def test_checkpointer_returns_the_report_with_the_remaining_entries(gn_model, tmp_path):
    path = str(tmp_path / "R-50-GN.pkl")
    imagenet_file(gn_model, path)

    result = GNDetCheckpointer(gn_model).load(path)

    assert set(result) == {"coverage_report"}
    assert result["coverage_report"].format == caffe2.FORMAT


def test_config_overrides_are_fair_gn_conventions():
    cfg = get_cfg()
    cfg.merge_from_list(caffe2.config_overrides())
    assert cfg.MODEL.RESNETS.STRIDE_IN_1X1 is False
    assert cfg.INPUT.FORMAT == "BGR" and list(cfg.MODEL.PIXEL_STD) == [1.0, 1.0, 1.0]

"""gn_det's full-GN preset and detectron2's own GN recipe are interchangeable checkpoint-wise."""
import torch
from detectron2 import model_zoo
from detectron2.modeling import build_model

from conftest import preset_cfg
from gn_det.config import load_config

# Sizes small enough for CPU; identical for both models.
SMALL = ["MODEL.DEVICE", "cpu", "MODEL.WEIGHTS", "", "INPUT.MIN_SIZE_TEST", 256,
         "INPUT.MAX_SIZE_TEST", 320, "MODEL.ROI_HEADS.SCORE_THRESH_TEST", 0.0]


DETECTRON2_GN_RECIPE = model_zoo.get_config_file("Misc/mask_rcnn_R_50_FPN_3x_gn.yaml")
# The same recipe built from gn_det's registered components instead of detectron2's.
GN_DET_COMPONENTS = ["MODEL.BACKBONE.NAME", "build_gn_det_resnet_fpn_backbone",
                     "MODEL.ROI_BOX_HEAD.NAME", "GNDetConvFCHead",
                     "MODEL.ROI_MASK_HEAD.NAME", "GNDetMaskRCNNConvUpsampleHead"]


def detectron2_gn_model():
    return build_model(load_config(DETECTRON2_GN_RECIPE, SMALL)).eval()


# The bit-identical fast path (the CPU default adds channels-last and compiled GN, equal to
# float rounding: tests/test_fast_path_parity.py).
BIT_IDENTICAL = ["MODEL.FAST_PATH.COMPILE", False, "MODEL.FAST_PATH.CHANNELS_LAST", False]


def gn_det_gn_model():
    return build_model(load_config(DETECTRON2_GN_RECIPE,
                                   SMALL + GN_DET_COMPONENTS + BIT_IDENTICAL)).eval()


def test_full_gn_preset_has_detectron2s_state_dict_keys_and_shapes():
    theirs = detectron2_gn_model().state_dict()
    ours = build_model(preset_cfg("mask_rcnn_R50_FPN_gn.yaml")).state_dict()
    assert list(theirs) == list(ours)
    assert all(theirs[key].shape == ours[key].shape for key in theirs)


def test_cross_loaded_weights_give_the_same_detections(capsys):
    theirs, ours = detectron2_gn_model(), gn_det_gn_model()
    with torch.no_grad():
        for param in theirs.parameters():  # away from init, so every layer matters
            param.add_(torch.randn_like(param) * 0.01)
    ours.load_state_dict(theirs.state_dict())
    image = torch.randint(0, 256, (3, 240, 300), dtype=torch.uint8).float()
    inputs = [{"image": image, "height": 240, "width": 300}]
    with torch.no_grad():
        expected, actual = theirs(inputs)[0]["instances"], ours(inputs)[0]["instances"]
    assert len(expected) > 0 and len(expected) == len(actual)
    for field in ("pred_boxes", "scores", "pred_masks", "pred_classes"):
        a, b = expected.get(field), actual.get(field)
        a = a.tensor if hasattr(a, "tensor") else a
        b = b.tensor if hasattr(b, "tensor") else b
        max_abs_difference = (a.float() - b.float()).abs().max().item()
        with capsys.disabled():
            print(f"\ncross-load {field}: max abs difference {max_abs_difference:.3g}", end="")
        assert max_abs_difference <= 1e-4, f"{field}: {max_abs_difference}"

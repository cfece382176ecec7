"""Every preset loads and builds, follows the naming scheme, and matches Detectron's recipe."""
import os
import re

import pytest
from detectron2.modeling import build_model

from conftest import preset_cfg, preset_paths

COCO_PRESET_NAME = re.compile(
    r"mask_rcnn_(R50|R101)_(FPN|C4)_(bnfrozen|gn|ln|gnws|syncbn)(_(2fc|bnhead|gnhead))?"
    r"(_long|_scratch)?\.yaml"
)
SHAPES_PRESET_NAME = re.compile(r"shapes_mask_rcnn_\w+\.yaml")

# Detectron's values (configs/04_2018_gn_baselines, configs/12_2017_baselines, projects/GN),
# written out here so a preset that drifts from them fails.
FPN_RECIPE = {
    "SOLVER.IMS_PER_BATCH": 16, "SOLVER.BASE_LR": 0.02, "SOLVER.WEIGHT_DECAY": 1e-4,
    "SOLVER.WEIGHT_DECAY_NORM": 0.0, "SOLVER.MOMENTUM": 0.9, "SOLVER.GAMMA": 0.1,
    "SOLVER.WARMUP_METHOD": "linear", "SOLVER.WARMUP_ITERS": 500, "SOLVER.WARMUP_FACTOR": 1 / 3,
    "INPUT.MIN_SIZE_TRAIN": (800,), "INPUT.MAX_SIZE_TRAIN": 1333, "INPUT.MIN_SIZE_TEST": 800,
    "INPUT.MAX_SIZE_TEST": 1333, "MODEL.ROI_HEADS.BATCH_SIZE_PER_IMAGE": 512,
    "MODEL.ROI_HEADS.NUM_CLASSES": 80, "MODEL.ROI_BOX_HEAD.POOLER_RESOLUTION": 7,
    "MODEL.ROI_BOX_HEAD.POOLER_SAMPLING_RATIO": 2, "MODEL.ROI_MASK_HEAD.POOLER_RESOLUTION": 14,
    "MODEL.ROI_MASK_HEAD.POOLER_SAMPLING_RATIO": 2, "MODEL.RPN.PRE_NMS_TOPK_TRAIN": 2000,
    "MODEL.RPN.PRE_NMS_TOPK_TEST": 1000, "MODEL.RPN.POST_NMS_TOPK_TEST": 1000,
    "MODEL.ROI_HEADS.NMS_THRESH_TEST": 0.5, "MODEL.GN.NUM_GROUPS": 32, "MODEL.GN.EPSILON": 1e-5,
}
C4_RECIPE = {
    "SOLVER.IMS_PER_BATCH": 8, "SOLVER.BASE_LR": 0.01, "SOLVER.WEIGHT_DECAY": 1e-4,
    "SOLVER.STEPS": (120000, 160000), "SOLVER.MAX_ITER": 180000, "SOLVER.WARMUP_ITERS": 500,
    "SOLVER.WARMUP_FACTOR": 1 / 3, "INPUT.MIN_SIZE_TRAIN": (800,), "INPUT.MAX_SIZE_TRAIN": 1333,
    "MODEL.ROI_HEADS.BATCH_SIZE_PER_IMAGE": 512, "MODEL.ROI_BOX_HEAD.POOLER_RESOLUTION": 14,
    "MODEL.RPN.PRE_NMS_TOPK_TEST": 6000, "MODEL.RPN.POST_NMS_TOPK_TEST": 1000,
    "MODEL.ROI_MASK_HEAD.NUM_CONV": 0, "MODEL.GN.EPSILON": 1e-5,
}
SCHEDULE_180K = {"SOLVER.STEPS": (120000, 160000), "SOLVER.MAX_ITER": 180000}
SCHEDULE_270K = {"SOLVER.STEPS": (210000, 250000), "SOLVER.MAX_ITER": 270000}
FULL_GN = {"MODEL.RESNETS.NORM": "GN", "MODEL.FPN.NORM": "GN", "MODEL.ROI_BOX_HEAD.NORM": "GN",
           "MODEL.ROI_MASK_HEAD.NORM": "GN", "MODEL.ROI_BOX_HEAD.NUM_CONV": 4,
           "MODEL.ROI_BOX_HEAD.NUM_FC": 1}
GN_IMAGENET = {"MODEL.RESNETS.STRIDE_IN_1X1": False, "MODEL.PIXEL_STD": [1.0, 1.0, 1.0],
               "INPUT.FORMAT": "BGR", "MODEL.BACKBONE.FREEZE_AT": 2}
BN_IMAGENET = {"MODEL.RESNETS.NORM": "FrozenBN", "MODEL.RESNETS.STRIDE_IN_1X1": True,
               "MODEL.PIXEL_STD": [1.0, 1.0, 1.0], "INPUT.FORMAT": "BGR",
               "MODEL.BACKBONE.FREEZE_AT": 2}
SCRATCH = {"MODEL.WEIGHTS": "", "MODEL.BACKBONE.FREEZE_AT": 0}
R50_GN_WEIGHTS = {"MODEL.WEIGHTS": "catalog://ImageNetPretrained/FAIR/R-50-GN"}
R101_GN_WEIGHTS = {"MODEL.WEIGHTS": "catalog://ImageNetPretrained/FAIR/R-101-GN",
                   "MODEL.RESNETS.DEPTH": 101}
R50_BN_WEIGHTS = {"MODEL.WEIGHTS": "detectron2://ImageNetPretrained/MSRA/R-50.pkl"}
R101_BN_WEIGHTS = {"MODEL.WEIGHTS": "detectron2://ImageNetPretrained/MSRA/R-101.pkl",
                   "MODEL.RESNETS.DEPTH": 101}

EXPECTED = {
    "mask_rcnn_R50_C4_bnfrozen.yaml": {**C4_RECIPE, **BN_IMAGENET, **R50_BN_WEIGHTS},
    "mask_rcnn_R50_C4_gn.yaml": {**C4_RECIPE, **GN_IMAGENET, **R50_GN_WEIGHTS,
                                 "MODEL.RESNETS.NORM": "GN", "MODEL.GN.NUM_GROUPS": 32},
    "mask_rcnn_R50_C4_ln.yaml": {**C4_RECIPE, **GN_IMAGENET, **R50_GN_WEIGHTS,
                                 "MODEL.RESNETS.NORM": "GN", "MODEL.GN.NUM_GROUPS": 1},
    "mask_rcnn_R50_FPN_bnfrozen_2fc.yaml": {
        **FPN_RECIPE, **SCHEDULE_180K, **BN_IMAGENET, **R50_BN_WEIGHTS,
        "MODEL.ROI_BOX_HEAD.NUM_CONV": 0, "MODEL.ROI_BOX_HEAD.NUM_FC": 2},
    "mask_rcnn_R50_FPN_bnfrozen.yaml": {
        **FPN_RECIPE, **SCHEDULE_180K, **BN_IMAGENET, **R50_BN_WEIGHTS,
        "MODEL.ROI_BOX_HEAD.NUM_CONV": 4, "MODEL.ROI_BOX_HEAD.NORM": "", "MODEL.FPN.NORM": ""},
    "mask_rcnn_R50_FPN_bnfrozen_bnhead.yaml": {
        **FPN_RECIPE, **SCHEDULE_180K, **BN_IMAGENET, "MODEL.ROI_BOX_HEAD.NORM": "BN"},
    "mask_rcnn_R50_FPN_bnfrozen_gnhead.yaml": {
        **FPN_RECIPE, **SCHEDULE_180K, **BN_IMAGENET, "MODEL.ROI_BOX_HEAD.NORM": "GN",
        "MODEL.ROI_MASK_HEAD.NORM": ""},
    "mask_rcnn_R50_FPN_gn_gnhead.yaml": {
        **FPN_RECIPE, **SCHEDULE_180K, **GN_IMAGENET, **R50_GN_WEIGHTS,
        **FULL_GN, "MODEL.ROI_MASK_HEAD.NORM": ""},
    "mask_rcnn_R50_FPN_gn.yaml": {**FPN_RECIPE, **SCHEDULE_180K, **GN_IMAGENET, **R50_GN_WEIGHTS,
                                  **FULL_GN},
    "mask_rcnn_R50_FPN_gn_long.yaml": {**FPN_RECIPE, **SCHEDULE_270K, **GN_IMAGENET,
                                       **R50_GN_WEIGHTS, **FULL_GN},
    "mask_rcnn_R101_FPN_gn.yaml": {**FPN_RECIPE, **SCHEDULE_180K, **GN_IMAGENET,
                                   **R101_GN_WEIGHTS, **FULL_GN},
    "mask_rcnn_R101_FPN_gn_long.yaml": {**FPN_RECIPE, **SCHEDULE_270K, **GN_IMAGENET,
                                        **R101_GN_WEIGHTS, **FULL_GN},
    "mask_rcnn_R50_FPN_bnfrozen_long.yaml": {**FPN_RECIPE, **SCHEDULE_270K, **BN_IMAGENET,
                                             **R50_BN_WEIGHTS},
    "mask_rcnn_R101_FPN_bnfrozen.yaml": {**FPN_RECIPE, **SCHEDULE_180K, **BN_IMAGENET,
                                         **R101_BN_WEIGHTS},
    "mask_rcnn_R101_FPN_bnfrozen_long.yaml": {**FPN_RECIPE, **SCHEDULE_270K, **BN_IMAGENET,
                                              **R101_BN_WEIGHTS},
    "mask_rcnn_R50_FPN_gn_scratch.yaml": {**FPN_RECIPE, **SCHEDULE_270K, **FULL_GN, **SCRATCH,
                                          "MODEL.RESNETS.DEPTH": 50},
    "mask_rcnn_R101_FPN_gn_scratch.yaml": {**FPN_RECIPE, **SCHEDULE_270K, **FULL_GN, **SCRATCH,
                                           "MODEL.RESNETS.DEPTH": 101},
    "mask_rcnn_R50_FPN_syncbn_scratch.yaml": {
        **FPN_RECIPE, **SCHEDULE_270K, **SCRATCH, "MODEL.RESNETS.NORM": "SyncBN",
        "MODEL.FPN.NORM": "SyncBN", "MODEL.ROI_BOX_HEAD.NORM": "SyncBN",
        "MODEL.ROI_MASK_HEAD.NORM": "SyncBN"},
    "mask_rcnn_R50_FPN_gnws.yaml": {**FPN_RECIPE, **SCHEDULE_180K, **FULL_GN,
                                    "MODEL.GN.WEIGHT_STANDARDIZATION": True,
                                    "MODEL.RESNETS.STRIDE_IN_1X1": False, "INPUT.FORMAT": "RGB"},
}


def value(cfg, key):
    for part in key.split("."):
        cfg = cfg[part]
    return cfg


def raw_cfg(path):
    from gn_det.config import load_config

    return load_config(path, ["MODEL.DEVICE", "cpu"])


def test_every_required_paper_row_has_a_preset():
    names = {os.path.basename(path) for path in preset_paths()}
    assert set(EXPECTED) <= names, sorted(set(EXPECTED) - names)


@pytest.mark.parametrize("path", preset_paths(), ids=os.path.basename)
def test_preset_name_follows_the_scheme(path):
    name = os.path.basename(path)
    assert COCO_PRESET_NAME.fullmatch(name) or SHAPES_PRESET_NAME.fullmatch(name), name


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_preset_matches_detectrons_recipe(name):
    cfg = raw_cfg(os.path.join(os.path.dirname(preset_paths()[0]), name))
    mismatches = {
        key: (value(cfg, key), expected) for key, expected in EXPECTED[name].items()
        if not (value(cfg, key) == pytest.approx(expected) if isinstance(expected, float)
                else value(cfg, key) == type(value(cfg, key))(expected))
    }
    assert not mismatches, f"{name}: {{key: (preset, Detectron)}} = {mismatches}"


@pytest.mark.parametrize("path", preset_paths(), ids=os.path.basename)
def test_preset_loads_and_builds_on_cpu(path):
    model = build_model(preset_cfg(os.path.basename(path)))
    assert sum(p.numel() for p in model.parameters()) > 0

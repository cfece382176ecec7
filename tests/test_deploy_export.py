"""Exported models (TorchScript, ONNX Runtime) predict what the eager model predicts.

The reference is detectron2's DefaultPredictor on the eager model (detectron2's own resize,
inference and ``detector_postprocess``). A trained shapes model (a short training, once per session)
is compared on every image of shapes_val, detection by detection and by AP; random-weight R-50
presets at small inputs detection by detection. Bad input is refused with one line.
"""
import collections
import json
import os
import subprocess
import sys

import cv2
import numpy as np
import onnx
import pytest
import torch
from detectron2.data import DatasetCatalog, MetadataCatalog
from detectron2.data import transforms as T
from detectron2.engine import DefaultPredictor
from detectron2.layers import FrozenBatchNorm2d
from detectron2.structures import Boxes, Instances, pairwise_iou

from conftest import (CONFIG_DIR, _registered_shapes_paths, _restore_shapes_paths, preset_cfg,
                      preset_paths)
from gn_det.config import load_config
from gn_det.data import ensure_shapes_split
from gn_det.deploy import DeployError, eager_config, export_model, load
from gn_det.deploy.export import ONNX_OPSET, check_exportable, export_trained_model
from gn_det.engine.trainer import Trainer
from gn_det.evaluation import evaluator_from_config
from gn_det.engine.trained_model import load_trained_model
from gn_det.modeling import build_model

# Trains or exports whole models (minutes on 2 CPU cores): `make test-slow` runs them.
pytestmark = pytest.mark.slow

REPO = os.path.dirname(CONFIG_DIR)
SHAPES_CONFIG = os.path.join(CONFIG_DIR, "shapes_mask_rcnn_R18_FPN_gn.yaml")
# Small inputs and few RoIs keep R-50 presets at a second per image on a CPU.
SMALL_INPUT = ["INPUT.MIN_SIZE_TEST", 128, "INPUT.MAX_SIZE_TEST", 192,
               "MODEL.RPN.POST_NMS_TOPK_TEST", 50, "TEST.DETECTIONS_PER_IMAGE", 20]
# A short from-scratch training of the shapes demo model: enough for confident detections.
SHORT_TRAINING = ["SOLVER.MAX_ITER", 150, "SOLVER.WARMUP_ITERS", 20, "SOLVER.STEPS", (120,),
                  "SOLVER.CHECKPOINT_PERIOD", 1000, "DATASETS.TEST", (),
                  "DATALOADER.NUM_WORKERS", 0, "MODEL.DEVICE", "cpu"]
# The matching criteria: exported detection vs eager detection.
BOX_IOU, SCORE_DIFFERENCE, MASK_IOU = 0.99, 1e-3, 0.98
AP_DIFFERENCE = 0.2


def eager_predictor(cfg, model):
    """detectron2's DefaultPredictor (its resize, inference and postprocessing) on an eager
    ``model`` (its __init__ would build and load one)."""
    predictor = DefaultPredictor.__new__(DefaultPredictor)
    predictor.cfg, predictor.model = cfg, model.eval()
    predictor.aug = T.ResizeShortestEdge([cfg.INPUT.MIN_SIZE_TEST] * 2, cfg.INPUT.MAX_SIZE_TEST)
    predictor.input_format = cfg.INPUT.FORMAT
    return lambda image: predictor(image)["instances"]


def unmatched_detections(eager, exported):
    """Eager detections without an exported one of the same class, box IoU >= BOX_IOU, score within
    SCORE_DIFFERENCE and mask IoU >= MASK_IOU (each exported detection used once), and the number
    of exported detections left over."""
    box_iou = pairwise_iou(eager.pred_boxes, exported.pred_boxes)
    flat_eager = eager.pred_masks.flatten(1).float()
    flat_exported = exported.pred_masks.flatten(1).float()
    intersection = flat_eager @ flat_exported.T
    union = flat_eager.sum(1)[:, None] + flat_exported.sum(1)[None] - intersection
    mask_iou = torch.where(union > 0, intersection / union.clamp(min=1), torch.ones_like(union))
    matches = ((eager.pred_classes[:, None] == exported.pred_classes[None])
               & (box_iou >= BOX_IOU) & (mask_iou >= MASK_IOU)
               & ((eager.scores[:, None] - exported.scores[None]).abs() <= SCORE_DIFFERENCE))
    used, unmatched = set(), []
    for index, row in enumerate(matches):
        candidates = [j for j in row.nonzero().flatten().tolist() if j not in used]
        if candidates:
            used.add(candidates[0])
        else:
            unmatched.append(index)
    return unmatched, len(exported) - len(used)


def assert_same_detections(eager, exported, where):
    assert exported.image_size == eager.image_size, where
    unmatched, extra = unmatched_detections(eager, exported)
    assert not unmatched and not extra, (
        f"{where}: eager detections {unmatched} of {len(eager)} have no exported match, "
        f"{extra} exported detections match none")


def test_detection_matching_fails_on_a_shifted_box():
    instances = _fake_instances([[10.0, 10.0, 50.0, 40.0]], [0.9], [1])
    shifted = _fake_instances([[11.0, 10.0, 51.0, 40.0]], [0.9], [1])
    assert unmatched_detections(instances, instances) == ([], 0)
    assert unmatched_detections(instances, shifted) == ([0], 1)


def _fake_instances(boxes, scores, classes):
    masks = torch.zeros(len(boxes), 64, 64, dtype=torch.bool)
    for mask, (x0, y0, x1, y1) in zip(masks, boxes):
        mask[int(y0):int(y1), int(x0):int(x1)] = True
    return Instances((64, 64), pred_boxes=Boxes(torch.tensor(boxes)), scores=torch.tensor(scores),
                     pred_classes=torch.tensor(classes), pred_masks=masks)


@pytest.fixture(scope="session")
def exported_shapes(shapes_train_cache, tmp_path_factory):
    """The shapes demo model after a short training (config with its weights), and its exports by
    tools/export_model.py's function, per format. shapes_val is generated in the same cache."""
    output = tmp_path_factory.mktemp("shapes_run")
    registered = _registered_shapes_paths()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GN_DET_SHAPES_DIR", str(shapes_train_cache))
        trainer = Trainer(load_config(SHAPES_CONFIG, SHORT_TRAINING + ["OUTPUT_DIR", str(output)]))
        trainer.resume_or_load(resume=False)
        trainer.train()
        ensure_shapes_split("shapes_val")
        cfg = load_config(SHAPES_CONFIG, ["MODEL.DEVICE", "cpu",
                                          "MODEL.WEIGHTS", str(output / "model_final.pth")])
        paths = {fmt: export_trained_model(cfg, fmt, str(output / fmt))
                 for fmt in ("torchscript", "onnx")}
    _restore_shapes_paths(registered)
    return cfg, paths


@pytest.fixture
def shapes_val(exported_shapes, shapes_train_env):
    """shapes_val's dataset dicts, from the trained model's cache."""
    ensure_shapes_split("shapes_val")
    return DatasetCatalog.get("shapes_val")


def _ap(cfg, dataset, predictions, output_dir):
    evaluator = evaluator_from_config(cfg, "shapes_val", str(output_dir))
    evaluator.reset()
    for record, instances in zip(dataset, predictions):
        evaluator.process([record], [{"instances": instances}])
    return evaluator.evaluate()


@pytest.fixture(scope="session")
def eager_shapes_results(exported_shapes, shapes_train_cache, tmp_path_factory):
    """The eager model's predictions on every shapes_val image, and its AP (once per session)."""
    cfg, _ = exported_shapes
    registered = _registered_shapes_paths()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GN_DET_SHAPES_DIR", str(shapes_train_cache))
        ensure_shapes_split("shapes_val")
        dataset = DatasetCatalog.get("shapes_val")
        predict = eager_predictor(cfg, load_trained_model(eager_config(cfg)))
        predictions = [predict(cv2.imread(record["file_name"])) for record in dataset]
        results = _ap(cfg, dataset, predictions, tmp_path_factory.mktemp("eager_eval"))
    _restore_shapes_paths(registered)
    return predictions, results


@pytest.mark.parametrize("export_format", ["torchscript", "onnx"])
def test_trained_model_exported_matches_eager_on_every_shapes_val_detection_and_ap(
        export_format, exported_shapes, shapes_val, eager_shapes_results, tmp_path):
    cfg, paths = exported_shapes
    eager_predictions, eager_results = eager_shapes_results
    predict = load(paths[export_format])
    predictions = []
    for record, eager in zip(shapes_val, eager_predictions):
        predictions.append(predict(cv2.imread(record["file_name"])))
        assert_same_detections(eager, predictions[-1], record["file_name"])
    assert sum(len(p) for p in eager_predictions) > len(shapes_val)  # it detects things
    results = _ap(cfg, shapes_val, predictions, tmp_path)
    assert eager_results["bbox"]["AP"] > 0.1, eager_results  # a random model scores ~0
    for task in ("bbox", "segm"):
        assert abs(results[task]["AP"] - eager_results[task]["AP"]) <= AP_DIFFERENCE, (
            task, results[task]["AP"], eager_results[task]["AP"])


# R-50 presets at a small input, random weights: FPN and C4; GN, GN+WS, BN*. Both formats trace the
# same graph; TorchScript is checked on one FPN and the C4 preset.
R50_EXPORTS = [("mask_rcnn_R50_FPN_gn.yaml", "torchscript"), ("mask_rcnn_R50_FPN_gn.yaml", "onnx"),
               ("mask_rcnn_R50_C4_gn.yaml", "torchscript"), ("mask_rcnn_R50_C4_gn.yaml", "onnx"),
               ("mask_rcnn_R50_FPN_gnws.yaml", "onnx"), ("mask_rcnn_R50_FPN_bnfrozen.yaml", "onnx")]


def _random_images():
    rng = np.random.default_rng(0)
    # Smooth blobs in two aspect ratios, unlike the synthetic image the model is traced on.
    images = []
    for height, width in ((100, 150), (160, 96)):
        small = rng.integers(0, 256, (height // 8, width // 8, 3), dtype=np.uint8)
        images.append(cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC))
    return images


def calibrate_frozen_batch_norms(model, image):
    """Set each FrozenBN's statistics to those of its input on ``image`` (in one forward pass, in
    order), as a trained BN* network's are: with its random init (mean 0, var 1) a deep ResNet's
    activations grow to thousands and every score saturates to 0 or 1, a tie that rounding decides."""
    def calibrate(norm, inputs):
        norm.running_mean.copy_(inputs[0].mean(dim=(0, 2, 3)))
        norm.running_var.copy_(inputs[0].var(dim=(0, 2, 3)))

    handles = [m.register_forward_pre_hook(calibrate) for m in model.modules()
               if isinstance(m, FrozenBatchNorm2d)]
    with torch.no_grad():
        model([{"image": torch.from_numpy(image.transpose(2, 0, 1).astype(np.float32))}])
    for handle in handles:
        handle.remove()


@pytest.mark.parametrize("preset,export_format", R50_EXPORTS)
def test_random_weight_r50_preset_exported_has_the_eager_detections(preset, export_format,
                                                                       tmp_path):
    cfg = eager_config(preset_cfg(preset, *SMALL_INPUT, "MODEL.ROI_HEADS.SCORE_THRESH_TEST", 0.0))
    model = build_model(cfg).eval()
    images = _random_images()
    calibrate_frozen_batch_norms(model, images[0])
    predict_eager = eager_predictor(cfg, model)
    class_names = MetadataCatalog.get(cfg.DATASETS.TRAIN[0]).thing_classes
    predict = load(export_model(model, cfg, export_format, str(tmp_path), class_names))
    for index, image in enumerate(images):
        eager = predict_eager(image)
        assert len(eager) > 0
        assert_same_detections(eager, predict(image), f"{preset} {export_format} #{index}")


def _graph_ops(graph):
    for node in graph.node:
        yield node
        for attribute in node.attribute:
            for subgraph in [attribute.g] * attribute.HasField("g") + list(attribute.graphs):
                yield from _graph_ops(subgraph)


def test_onnx_graph_opset_group_norm_decomposition_and_half_pixel_roi_align(exported_shapes):
    cfg, paths = exported_shapes
    graph = onnx.load(paths["onnx"])
    onnx.checker.check_model(graph)
    assert [o.version for o in graph.opset_import if o.domain in ("", "ai.onnx")] == [ONNX_OPSET]
    ops = collections.Counter(node.op_type for node in _graph_ops(graph.graph))
    group_norms = sum(isinstance(m, torch.nn.GroupNorm) for m in build_model(
        eager_config(cfg)).modules())
    assert group_norms == 36
    assert ops["InstanceNormalization"] == group_norms
    assert ops["GroupNormalization"] == 0
    assert ops["NonMaxSuppression"] >= 2  # RPN and box head
    roi_aligns = [node for node in _graph_ops(graph.graph) if node.op_type == "RoiAlign"]
    modes = {attribute.s.decode() for node in roi_aligns for attribute in node.attribute
             if attribute.name == "coordinate_transformation_mode"}
    assert roi_aligns and modes == {"half_pixel"}  # ROIAlignV2: aligned=True
    metadata = json.load(open(os.path.join(os.path.dirname(paths["onnx"]), "model.json")))
    assert metadata["onnx"]["opset"] == ONNX_OPSET
    assert metadata["class_names"] == MetadataCatalog.get("shapes_train").thing_classes
    assert metadata["score_threshold"] == cfg.MODEL.ROI_HEADS.SCORE_THRESH_TEST
    assert metadata["input"]["channel_order"] == "BGR"


@pytest.mark.parametrize("preset", [os.path.basename(p) for p in preset_paths()])
def test_every_preset_builds_an_exportable_eager_model(preset):
    check_exportable(build_model(eager_config(preset_cfg(preset))))


def test_the_fast_path_model_is_refused_and_has_the_eager_models_weights():
    cfg = preset_cfg("mask_rcnn_R50_FPN_gnws.yaml", "MODEL.FAST_PATH.COMPILE", True,
                     "MODEL.FAST_PATH.CHANNELS_LAST", True)
    fast = build_model(cfg)
    with pytest.raises(DeployError, match="fast-path FusedWeightStandardizedConv2d"):
        check_exportable(fast)
    assert build_model(eager_config(cfg)).state_dict().keys() == fast.state_dict().keys()


def test_deformable_convolutions_are_refused_with_what_to_do_instead(tmp_path):
    cfg = preset_cfg("mask_rcnn_R50_FPN_bnfrozen.yaml", "MODEL.BACKBONE.NAME",
                     "build_resnet_fpn_backbone", "MODEL.RESNETS.DEFORM_ON_PER_STAGE",
                     [False, True, False, False])
    model = build_model(eager_config(cfg))
    with pytest.raises(DeployError, match=r"backbone.bottom_up.res3.0.conv2 is a DeformConv.*"
                                          r"tools/predict.py"):
        export_model(model, cfg, "onnx", str(tmp_path / "out"), ["a"])
    assert not (tmp_path / "out").exists()


def test_unknown_format_and_non_empty_output_folder_are_refused_before_loading(tmp_path):
    cfg = load_config(SHAPES_CONFIG, ["MODEL.WEIGHTS", "/no/such/weights.pth"])
    with pytest.raises(DeployError, match="unknown --format 'tflite': use one of torchscript, onnx"):
        export_trained_model(cfg, "tflite", str(tmp_path / "out"))
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("x")
    with pytest.raises(DeployError, match="exists and is not empty.*--overwrite"):
        export_trained_model(cfg, "onnx", str(tmp_path / "full"))
    assert (tmp_path / "full" / "keep.txt").exists()


def test_overwrite_replaces_a_non_empty_output_folder(tmp_path):
    cfg = eager_config(preset_cfg("shapes_mask_rcnn_R18_FPN_gn.yaml"))
    (tmp_path / "keep.txt").write_text("x")
    model = build_model(cfg).eval()
    with pytest.raises(DeployError, match="not empty"):
        export_model(model, cfg, "torchscript", str(tmp_path), ["a"] * 5)
    export_model(model, cfg, "torchscript", str(tmp_path), ["a"] * 5, overwrite=True)
    assert sorted(os.listdir(tmp_path)) == ["model.json", "model.ts"]


def test_loading_onnx_without_onnxruntime_says_how_to_install_it(exported_shapes, monkeypatch):
    _, paths = exported_shapes
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.raises(DeployError, match=r"needs onnxruntime.*pip install 'gn_det\[deploy\]'"):
        load(paths["onnx"])


def test_tool_prints_one_error_line_for_an_unknown_format(tmp_path):
    result = subprocess.run([sys.executable, "tools/export_model.py", "--config-file",
                             SHAPES_CONFIG, "--format", "tflite", "--output", str(tmp_path / "o")],
                            cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert result.stderr.strip().splitlines()[-1] == (
        "gn_det: error: unknown --format 'tflite': use one of torchscript, onnx.")
    assert "Traceback" not in result.stderr


def test_onnx_runtime_runner_works_without_torch_and_detectron2(exported_shapes, shapes_val):
    _, paths = exported_shapes
    image = shapes_val[0]["file_name"]
    code = ("import runpy, sys; sys.modules.update(torch=None, detectron2=None, gn_det=None); "
            f"sys.argv = ['onnx_runtime.py', {paths['onnx']!r}, {image!r}]; "
            "runpy.run_path('gn_det/deploy/onnx_runtime.py', run_name='__main__')")
    result = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr
    expected = load(paths["onnx"])(cv2.imread(image))
    lines = result.stdout.splitlines()
    assert len(lines) == len(expected) > 0
    names = MetadataCatalog.get("shapes_train").thing_classes
    assert lines[0].startswith(f"{names[expected.pred_classes[0]]} {expected.scores[0]:.3f} [")


@pytest.mark.parametrize("export_format", ["torchscript", "onnx"])
def test_an_image_without_detections_gives_empty_instances(export_format, tmp_path):
    # The GN mask head then runs on an empty batch, where torch's ONNX GroupNorm (Reshape to
    # (0, G, -1)) failed in ONNX Runtime.
    cfg = eager_config(preset_cfg("shapes_mask_rcnn_R18_FPN_gn.yaml",
                                  "MODEL.ROI_HEADS.SCORE_THRESH_TEST", 0.999))
    model = build_model(cfg).eval()
    predict = load(export_model(model, cfg, export_format, str(tmp_path), ["a"] * 5))
    for image in _random_images():
        eager, exported = eager_predictor(cfg, model)(image), predict(image)
        assert len(eager) == 0
        assert_same_detections(eager, exported, export_format)
        assert exported.pred_masks.shape == (0, *image.shape[:2])

"""Export a trained gn_det model to TorchScript or ONNX, as its eager ops.

The exported model is the eager model: built with ``MODEL.FAST_PATH.ENABLED False`` (the fast
path's fused convs, compiled GN kernels and channels-last RoIAlign only change classes, so the
state dict and the checkpoint are the same; :func:`eager_config`), its weights loaded by gn_det's
checkpointer. It is traced through detectron2's ``TracingAdapter`` on one image, from the resized
CHW image to detectron2's instances before ``detector_postprocess`` (boxes in the resized image,
28x28 mask probabilities), as detectron2's tools/deploy/export_model.py does: scaling back to the
image and pasting the masks run outside the graph (:mod:`gn_det.deploy.predictor`).

TorchScript: ``torch.jit.trace`` (loading needs torch and torchvision, whose ops the graph calls).
ONNX: torch's TorchScript-based exporter (``dynamo=False``) at opset :data:`ONNX_OPSET`. torch's
dynamo exporter cannot export detectron2's inference (data-dependent sizes: padding, NMS output).
The TorchScript-based exporter has no GroupNormalization symbolic at any opset (it stops at 20,
and GroupNormalization-18 is deprecated with per-group scale and bias, which onnx's checker
refuses); each GroupNorm is exported as torch's decomposition: Reshape to (N, G, C/G*H*W),
InstanceNormalization with unit scale and zero bias, Reshape back, Mul by gamma, Add beta (the
group size computed from the shape, not Reshape's -1, which fails on an empty mask-head batch).
RoiAlign is the ONNX op with ``coordinate_transformation_mode`` "half_pixel" for detectron2's
``aligned=True`` (ROIAlignV2), which needs opset 16 or later; NMS is NonMaxSuppression.
"""
import json
import os
import shutil
import warnings

import cv2
import numpy as np
import torch
from detectron2.layers import DeformConv, ModulatedDeformConv
from detectron2.modeling import GeneralizedRCNN

from .. import compat
from ..engine.trained_model import load_trained_model
from ..errors import GNDetError
from ..layers import FusedConv2d
from ..layers.roi_align import FastROIAlign, FastROIPooler
from ..modeling.fast_path import _FAST_BLOCKS
from ..prediction import training_metadata
from .onnx_runtime import METADATA_FILE, model_input

FORMATS = ("torchscript", "onnx")
MODEL_FILES = {"torchscript": "model.ts", "onnx": "model.onnx"}
# Opset 17: RoiAlign with half_pixel needs 16; no opset the exporter reaches has a usable
# GroupNormalization (see the module docstring).
ONNX_OPSET = 17
GROUP_NORM_IN_ONNX = ("Reshape(N, G, C/G*H*W) -> InstanceNormalization(scale 1, bias 0) -> "
                      "Reshape(N, C, H, W) -> Mul(gamma) -> Add(beta)")
# The fast path's classes (gn_det.modeling.fast_path); an exported model must have none.
_FAST_CLASSES = (FusedConv2d, FastROIAlign, FastROIPooler, *_FAST_BLOCKS.values())


class DeployError(GNDetError, ValueError):
    """A model that cannot be exported, a bad format or output folder, an export that cannot load."""


def eager_config(cfg):
    """A copy of ``cfg`` that builds the eager model: the same modules and state dict keys as the
    fast path's, with detectron2's own forwards (no fused, compiled or channels-last modules)."""
    cfg = cfg.clone()
    cfg.defrost()
    cfg.MODEL.FAST_PATH.ENABLED = False
    cfg.MODEL.FAST_PATH.COMPILE = False
    cfg.MODEL.FAST_PATH.CHANNELS_LAST = False
    return cfg


def check_format(export_format):
    if export_format not in FORMATS:
        raise DeployError(f"unknown --format {export_format!r}: use one of {', '.join(FORMATS)}.")


def check_exportable(model):
    """Raise :class:`DeployError` for a model that tracing cannot export as it runs."""
    if not isinstance(model, GeneralizedRCNN):
        raise DeployError(f"MODEL.META_ARCHITECTURE builds a {type(model).__name__}: gn_det exports "
                          "GeneralizedRCNN models (Mask R-CNN, Faster R-CNN) only; run others "
                          "with detectron2 in Python (tools/predict.py).")
    for name, module in model.named_modules():
        if isinstance(module, (DeformConv, ModulatedDeformConv)):
            raise DeployError(
                f"{name} is a {type(module).__name__} (MODEL.RESNETS.DEFORM_ON_PER_STAGE): "
                "deformable convolutions are detectron2 C++/CUDA operators that neither "
                "TorchScript tracing nor ONNX can export. Run this model with detectron2 in "
                "Python (tools/predict.py), or export a model trained without them.")
        if isinstance(module, _FAST_CLASSES):
            raise DeployError(f"{name} is gn_det's fast-path {type(module).__name__}: export the "
                              "eager model (build it with gn_det.deploy.eager_config(cfg)).")


def check_output_dir(path, overwrite=False):
    """Refuse an output folder that is a file, or exists and is not empty unless ``overwrite``."""
    if os.path.exists(path) and not os.path.isdir(path):
        raise DeployError(f"--output {path} is a file, not a folder.")
    if os.path.isdir(path) and os.listdir(path) and not overwrite:
        raise DeployError(f"--output {path} exists and is not empty: choose a new folder, or "
                          "pass --overwrite to replace its contents.")


def prepare_output_dir(path, overwrite=False):
    """Create the empty folder ``path`` (see :func:`check_output_dir`)."""
    check_output_dir(path, overwrite)
    if os.path.isdir(path):
        shutil.rmtree(path)
    os.makedirs(path)


def read_sample_image(path):
    """The HxWx3 uint8 BGR image at ``path`` (--sample-image)."""
    if not os.path.isfile(path):  # before OpenCV, which would also print its own warning
        raise DeployError(f"--sample-image {path}: no such file.")
    image = cv2.imread(path, cv2.IMREAD_COLOR)
    if image is None:
        raise DeployError(f"--sample-image {path}: not an image OpenCV reads.")
    return image


def synthetic_image(cfg):
    """A deterministic HxWx3 uint8 BGR image of the test size (4:3) to trace on when the user gives
    none: smooth gradients, so that a trained model sees edges."""
    height = max(cfg.INPUT.MIN_SIZE_TEST, 32)
    width = min(height * 4 // 3, cfg.INPUT.MAX_SIZE_TEST)
    y, x = np.mgrid[0:height, 0:width]
    channels = [x * 255 // max(width - 1, 1), y * 255 // max(height - 1, 1), (x + y) % 256]
    return np.stack(channels, axis=2).astype(np.uint8)


def export_metadata(cfg, export_format, class_names):
    """What ``model.json`` holds: how to feed the model and read its outputs."""
    metadata = {
        "format": export_format,
        "model_file": MODEL_FILES[export_format],
        "input": {"name": "image", "channel_order": cfg.INPUT.FORMAT,
                  "layout": "CHW float32, pixel values 0-255, resized by ResizeShortestEdge",
                  "min_size": cfg.INPUT.MIN_SIZE_TEST, "max_size": cfg.INPUT.MAX_SIZE_TEST},
        # detectron2's Instances fields (TracingAdapter flattens them sorted by name), then the
        # size of the resized image that the boxes refer to.
        "outputs": ["pred_boxes", "pred_classes", *(["pred_masks"] if cfg.MODEL.MASK_ON else []),
                    "scores", "image_size"],
        "class_names": list(class_names),
        # Applied inside the model (ROI_HEADS.SCORE_THRESH_TEST), like NMS and the detection cap.
        "score_threshold": cfg.MODEL.ROI_HEADS.SCORE_THRESH_TEST,
        "mask_threshold": 0.5,
    }
    if export_format == "onnx":
        metadata["onnx"] = {"opset": ONNX_OPSET, "group_norm": GROUP_NORM_IN_ONNX}
    return metadata


def _tracing_adapter(model, image):
    def instances_before_postprocess(model, inputs):
        return model.inference(inputs, do_postprocess=False)[0]

    adapter = compat.tracing_adapter_class()(model, [{"image": image}],
                                             instances_before_postprocess)
    return adapter.eval()


def _export_torchscript(adapter, path):
    with torch.no_grad():
        traced = torch.jit.trace(adapter, adapter.flattened_inputs, check_trace=False)
    traced.save(path)


def _group_norm_symbolic(g, input, num_groups, weight, bias, eps, cudnn_enabled):
    # torch's decomposition (symbolic_opset9.group_norm) with the group size computed instead of
    # Reshape's -1: a -1 cannot be inferred from an empty tensor, which the mask head gets on an
    # image without detections (ONNX Runtime then fails: "{0,256,14,14} -> {0,32,-1}").
    from torch.onnx import symbolic_helper

    groups = symbolic_helper._get_const(num_groups, "i", "num_groups")
    epsilon = symbolic_helper._get_const(eps, "f", "eps")
    channels = symbolic_helper._get_tensor_dim_size(input, 1)
    shape = g.op("Shape", input)
    batch = g.op("Slice", shape, g.op("Constant", value_t=torch.tensor([0])),
                 g.op("Constant", value_t=torch.tensor([1])))
    spatial = g.op("ReduceProd", g.op("Slice", shape, g.op("Constant", value_t=torch.tensor([2])),
                                      g.op("Constant", value_t=torch.tensor([2 ** 62]))),
                   keepdims_i=1)
    group_size = g.op("Mul", spatial, g.op("Constant",
                                           value_t=torch.tensor([channels // groups])))
    grouped = g.op("Reshape", input, g.op("Concat", batch, g.op(
        "Constant", value_t=torch.tensor([groups])), group_size, axis_i=0))
    normalized = g.op("InstanceNormalization", grouped,
                      g.op("Constant", value_t=torch.ones(groups)),
                      g.op("Constant", value_t=torch.zeros(groups)), epsilon_f=epsilon)
    normalized = g.op("Reshape", normalized, shape)
    axes = g.op("Constant", value_t=torch.tensor([1, 2]))
    return g.op("Add", g.op("Mul", normalized, g.op("Unsqueeze", weight, axes)),
                g.op("Unsqueeze", bias, axes))


def _export_onnx(adapter, path, output_names):
    dynamic = {"image": {1: "height", 2: "width"}, **{name: {0: "detections"}
               for name in output_names if name != "image_size"}}
    torch.onnx.register_custom_op_symbolic("aten::group_norm", _group_norm_symbolic, ONNX_OPSET)
    try:
        with warnings.catch_warnings(), torch.no_grad():
            warnings.simplefilter("ignore")  # the exporter's deprecation and tracer warnings
            torch.onnx.export(adapter, adapter.flattened_inputs, path, dynamo=False,
                              opset_version=ONNX_OPSET, input_names=["image"],
                              output_names=output_names, dynamic_axes=dynamic)
    finally:
        torch.onnx.unregister_custom_op_symbolic("aten::group_norm", ONNX_OPSET)


def export_model(model, cfg, export_format, output_dir, class_names, sample_image_bgr=None,
                 overwrite=False):
    """Export the eager ``model`` of ``cfg`` (in eval mode, weights loaded) to ``output_dir`` as
    ``model.ts`` or ``model.onnx`` with ``model.json``; return the model file's path.

    The graph is traced on ``sample_image_bgr`` (HxWx3 uint8 BGR; default
    :func:`synthetic_image`) and runs on images of any size."""
    check_format(export_format)
    check_exportable(model)
    prepare_output_dir(output_dir, overwrite)
    metadata = export_metadata(cfg, export_format, class_names)
    image = sample_image_bgr if sample_image_bgr is not None else synthetic_image(cfg)
    adapter = _tracing_adapter(model.eval(), torch.from_numpy(model_input(image, metadata)))
    path = os.path.join(output_dir, MODEL_FILES[export_format])
    if export_format == "torchscript":
        _export_torchscript(adapter, path)
    else:
        _export_onnx(adapter, path, metadata["outputs"])
    with open(os.path.join(output_dir, METADATA_FILE), "w") as f:
        json.dump(metadata, f, indent=2)
    return path


def export_trained_model(cfg, export_format, output_dir, sample_image=None, overwrite=False):
    """tools/export_model.py: check the format and the folder, load ``cfg``'s eager model with
    ``MODEL.WEIGHTS`` (refused when they do not cover the model), export it with the class names of
    ``DATASETS.TRAIN[0]``; return the model file's path. ``sample_image``: a file to trace on."""
    check_format(export_format)
    check_output_dir(output_dir, overwrite)
    image = read_sample_image(sample_image) if sample_image else None
    class_names = training_metadata(cfg).thing_classes
    model = load_trained_model(eager_config(cfg))
    return export_model(model, cfg, export_format, output_dir, class_names, image, overwrite)

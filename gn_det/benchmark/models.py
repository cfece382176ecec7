"""The benchmarked models, their shared weights and inputs.

Every model is built in one process on the same input images, with the same weights where their
parameters have the same names: all GN models share one state dict; the BN* models take its conv
weights, and their FrozenBN statistics are calibrated on the benchmark image so that their
activations are normalized as a trained BN* network's are.
"""
import os

import numpy as np
import torch
from detectron2 import model_zoo
from detectron2.data import transforms as T
from detectron2.layers import FrozenBatchNorm2d
from detectron2.modeling import build_model as detectron2_build_model
from detectron2.structures import Boxes, Instances, PolygonMasks
from torch import nn

from ..config import load_config
from ..modeling import build_model

CONFIG_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))), "configs")
GN_PRESET = os.path.join(CONFIG_DIR, "mask_rcnn_R50_FPN_gn.yaml")
BN_PRESET = os.path.join(CONFIG_DIR, "mask_rcnn_R50_FPN_bnfrozen.yaml")
D2_GN_RECIPE = "Misc/mask_rcnn_R_50_FPN_3x_gn.yaml"
GN_DET_COMPONENTS = ["MODEL.BACKBONE.NAME", "build_gn_det_resnet_fpn_backbone",
                     "MODEL.ROI_BOX_HEAD.NAME", "GNDetConvFCHead",
                     "MODEL.ROI_MASK_HEAD.NAME", "GNDetMaskRCNNConvUpsampleHead"]
EAGER = ["MODEL.FAST_PATH.ENABLED", False]
BIT_EXACT = ["MODEL.FAST_PATH.COMPILE", False, "MODEL.FAST_PATH.CHANNELS_LAST", False]


class Model:
    """A benchmarked model: what it is, its config file ("d2": detectron2's GN recipe) and
    overrides, the weights it shares ("gn" or "bn"), and whether detectron2 builds it."""

    def __init__(self, description, config_file, overrides, weights, detectron2_build=False):
        self.description, self.config_file, self.overrides = description, config_file, overrides
        self.weights, self.detectron2_build = weights, detectron2_build


MODELS = {
    "d2_gn": Model("detectron2's own GN model (Misc/mask_rcnn_R_50_FPN_3x_gn)", "d2", [], "gn",
                   detectron2_build=True),
    "gn_det_on_d2": Model("gn_det's components, the same recipe, default config", "d2",
                          GN_DET_COMPONENTS, "gn"),
    "gn_eager": Model("gn_det GN preset, eager (FAST_PATH.ENABLED False)", GN_PRESET, EAGER, "gn"),
    "gn_bitexact": Model("gn_det GN preset, bit-identical fast path (COMPILE, CHANNELS_LAST "
                         "False)", GN_PRESET, BIT_EXACT, "gn"),
    "gn_no_compile": Model("gn_det GN preset, default config but COMPILE False", GN_PRESET,
                           ["MODEL.FAST_PATH.COMPILE", False], "gn"),
    "gn_default": Model("gn_det GN preset, default config", GN_PRESET, [], "gn"),
    "bn_eager": Model("gn_det BN* preset, eager", BN_PRESET, EAGER, "bn"),
    "bn_default": Model("gn_det BN* preset, default config", BN_PRESET, [], "bn"),
}
# The models whose training step is timed by default (the floors' models).
TRAINING_MODELS = ["d2_gn", "gn_det_on_d2", "gn_default", "bn_default"]


def model_config(model_id, device):
    model = MODELS[model_id]
    config_file = model.config_file
    if config_file == "d2":
        config_file = model_zoo.get_config_file(D2_GN_RECIPE)
    return load_config(config_file, ["MODEL.DEVICE", device, "MODEL.WEIGHTS", "",
                                     *model.overrides])


def gn_weights(model):
    """The GN family's shared weights: the model's initialization, moved away from it (so every
    layer matters), with class scores spread like a trained model's (a few hundred candidate
    detections above the 0.05 test threshold, instead of none)."""
    torch.manual_seed(0)
    with torch.no_grad():
        for param in model.parameters():
            param.add_(torch.randn_like(param) * 0.01)
        model.roi_heads.box_predictor.cls_score.weight.normal_(0, 0.05)
    return {k: v.clone() for k, v in model.state_dict().items()}


def bn_weights(model, gn_state, image):
    """BN* weights: the GN conv weights where names and shapes match, FrozenBN statistics set, layer
    by layer, to the mean and variance of the layer's input on ``image``."""
    state = model.state_dict()
    state.update({k: v for k, v in gn_state.items() if k in state and state[k].shape == v.shape})
    model.load_state_dict(state)

    def calibrate(norm, inputs):
        var, mean = torch.var_mean(inputs[0], dim=(0, 2, 3), unbiased=False)
        norm.running_mean.copy_(mean)
        norm.running_var.copy_(var)

    hooks = [m.register_forward_pre_hook(calibrate) for m in model.modules()
             if isinstance(m, FrozenBatchNorm2d)]
    with torch.no_grad():
        model.eval()([image])
    for hook in hooks:
        hook.remove()
    return {k: v.clone() for k, v in model.state_dict().items()}


def inference_input(cfg, device):
    """A 480x640 image resized to the preset's test size (short side 800, max 1333)."""
    rng = np.random.default_rng(1)
    image = rng.integers(0, 256, (480, 640, 3), dtype=np.uint8)
    resize = T.ResizeShortestEdge(cfg.INPUT.MIN_SIZE_TEST, cfg.INPUT.MAX_SIZE_TEST)
    resized = resize.get_transform(image).apply_image(image)
    tensor = torch.as_tensor(np.ascontiguousarray(resized.transpose(2, 0, 1))).float()
    return {"image": tensor.to(device), "height": 480, "width": 640}


def training_batch(device, num_images=2, instances_per_image=8):
    """Two 800x1067 images with polygon instances (COCO's mask format)."""
    rng = np.random.default_rng(2)
    batch = []
    for _ in range(num_images):
        height, width = 800, 1067
        image = torch.as_tensor(rng.integers(0, 256, (3, height, width)), dtype=torch.float32)
        boxes, polygons = [], []
        for _ in range(instances_per_image):
            w, h = rng.uniform(40, 400), rng.uniform(40, 400)
            x0, y0 = rng.uniform(0, width - w), rng.uniform(0, height - h)
            angles = np.linspace(0, 2 * np.pi, 16, endpoint=False)
            xs = x0 + w / 2 * (1 + np.cos(angles))
            ys = y0 + h / 2 * (1 + np.sin(angles))
            polygons.append([np.stack([xs, ys], axis=1).ravel()])
            boxes.append([x0, y0, x0 + w, y0 + h])
        instances = Instances((height, width))
        instances.gt_boxes = Boxes(torch.tensor(boxes, dtype=torch.float32))
        instances.gt_classes = torch.as_tensor(rng.integers(0, 80, instances_per_image))
        instances.gt_masks = PolygonMasks(polygons)
        batch.append({"image": image.to(device), "instances": instances.to(device),
                      "height": height, "width": width})
    return batch


def build_models(model_ids, device, image):
    """model id -> (config, model with its family's weights), in eval mode."""
    states = {"gn": gn_weights(build_model(model_config("gn_eager", device)))}
    if any(MODELS[model_id].weights == "bn" for model_id in model_ids):
        # Calibrated on an eager model: the fast path folds FrozenBN, so it never runs it.
        states["bn"] = bn_weights(build_model(model_config("bn_eager", device)), states["gn"],
                                  image)
    models = {}
    for model_id in model_ids:
        cfg = model_config(model_id, device)
        # detectron2's own model as detectron2 builds it; gn_det's as gn_det builds them.
        build = detectron2_build_model if MODELS[model_id].detectron2_build else build_model
        model = build(cfg).eval()
        model.load_state_dict(states[MODELS[model_id].weights])
        models[model_id] = (cfg, model)
    return models


def flops_per_image(model, image):
    """FLOPs of one inference of ``model`` on ``image`` in its convolutions, deconvolutions and
    linear layers (2 per multiply-add; counted by forward hooks on the call actually made, RoI
    heads on the RoIs they got), the operations that bound a detector's speed."""
    total = [0]

    def count(module, inputs, output):
        if isinstance(module, nn.Linear):
            total[0] += 2 * output.numel() * module.in_features
        else:  # multiply-adds per output element (conv) or per input element (deconv)
            elements = output if isinstance(module, nn.Conv2d) else inputs[0]
            total[0] += 2 * elements.numel() * module.weight[0].numel()

    hooks = [m.register_forward_hook(count) for m in model.modules()
             if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear))]
    try:
        with torch.no_grad():
            model([image])
    finally:
        for hook in hooks:
            hook.remove()
    return total[0]

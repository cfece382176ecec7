#!/usr/bin/env python
"""Side-by-side speed and memory of GN and BN* Mask R-CNN R-50-FPN, eager and on gn_det's fast path.

    python tools/benchmark.py                      # CPU (2 threads), every part; ~20 min on 2 cores
    python tools/benchmark.py --device cuda
    python tools/benchmark.py --parts kernel inference --repeats 7

Every model is built in this one process on the same input images, with the same weights where
their parameters have the same names (all GN models share one state dict; the BN* models take its
conv weights, and their FrozenBN statistics are calibrated on the benchmark image so that their
activations are normalized as a trained BN* network's are). Timed calls of the compared models
are interleaved (A, B, C, A, B, C, ...) so that load from other processes affects all of them
alike; the tables give the median and the range over the repeats. First calls (warm-up, which
include any torch.compile) are not timed; their duration is reported separately.

Models:
  d2_gn            detectron2's own GN model, from its Misc/mask_rcnn_R_50_FPN_3x_gn recipe
  gn_det_on_d2     the same recipe built from gn_det's components, full fast path (same outputs)
  gn_eager         gn_det's mask_rcnn_R50_FPN_gn preset, MODEL.FAST_PATH.ENABLED False
  gn_fast_default  the same preset with the default fast path
  gn_fast          the same preset, full fast path (COMPILE and CHANNELS_LAST on)
  bn_eager / bn_fast_default / bn_fast: the same for mask_rcnn_R50_FPN_bnfrozen (BN*)

Parts: "kernel" (a GN+ReLU pass on a 1x256x200x272 tensor against copying it), "inference"
(s/image at the preset's test size, 800 x 1067, on an image of 480 x 640 pixels), "training"
(s/iteration for a batch of 2 images at the training size 800 x 1067, forward + backward +
optimizer step, learning rate 0 so that every iteration does the same work), "equality" (fast
path outputs against eager outputs). Peak memory is the peak RSS growth during one call on the
CPU (sampled every 2 ms), and the peak allocated memory on CUDA.

Writes OUTPUT_DIR/benchmark.json and OUTPUT_DIR/benchmark.md, and prints the markdown.
"""
import argparse
import ctypes
import json
import os
import platform
import statistics
import threading
import time

import gn_det  # noqa: F401  (first: detectron2 fixes and registration)
import numpy as np
import torch
import torch.nn.functional as F
from detectron2 import model_zoo
from detectron2.data import transforms as T
from detectron2.layers import FrozenBatchNorm2d
from detectron2.modeling import build_model as detectron2_build_model
from detectron2.structures import Boxes, Instances, PolygonMasks, pairwise_iou
from detectron2.utils.events import EventStorage
from torch import nn

from gn_det.config import load_config
from gn_det.layers import fused_norm
from gn_det.modeling import build_model
from gn_det.solver import build_optimizer

CONFIG_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "configs")
GN_PRESET = os.path.join(CONFIG_DIR, "mask_rcnn_R50_FPN_gn.yaml")
BN_PRESET = os.path.join(CONFIG_DIR, "mask_rcnn_R50_FPN_bnfrozen.yaml")
D2_GN_RECIPE = "Misc/mask_rcnn_R_50_FPN_3x_gn.yaml"
GN_DET_COMPONENTS = ["MODEL.BACKBONE.NAME", "build_gn_det_resnet_fpn_backbone",
                     "MODEL.ROI_BOX_HEAD.NAME", "GNDetConvFCHead",
                     "MODEL.ROI_MASK_HEAD.NAME", "GNDetMaskRCNNConvUpsampleHead"]
EAGER = ["MODEL.FAST_PATH.ENABLED", False]
FULL_FAST = ["MODEL.FAST_PATH.COMPILE", True, "MODEL.FAST_PATH.CHANNELS_LAST", True]

# id -> (description, config file, overrides, weight family)
MODELS = {
    "d2_gn": ("detectron2 GN (Misc/mask_rcnn_R_50_FPN_3x_gn)", "d2", [], "gn"),
    "gn_det_on_d2": ("gn_det components, same recipe, full fast path", "d2",
                     GN_DET_COMPONENTS + FULL_FAST, "gn"),
    "gn_eager": ("gn_det GN preset, eager", GN_PRESET, EAGER, "gn"),
    "gn_fast_default": ("gn_det GN preset, default fast path", GN_PRESET, [], "gn"),
    "gn_fast": ("gn_det GN preset, full fast path", GN_PRESET, FULL_FAST, "gn"),
    "bn_eager": ("gn_det BN* preset, eager", BN_PRESET, EAGER, "bn"),
    "bn_fast_default": ("gn_det BN* preset, default fast path", BN_PRESET, [], "bn"),
    "bn_fast": ("gn_det BN* preset, full fast path", BN_PRESET, FULL_FAST, "bn"),
}
# fast model -> the model its outputs must equal.
EQUALITY_PAIRS = [("gn_det_on_d2", "d2_gn"), ("gn_fast_default", "gn_eager"),
                  ("gn_fast", "gn_eager"), ("bn_fast_default", "bn_eager"), ("bn_fast", "bn_eager")]
# Matched detections: same class, box IoU >= 0.99, score within 1e-3; at least 95% matched
# (a near-tie at the 100-detection cut or in NMS can swap a few); the matched masks together
# (pixels in both / pixels in either) agree to 0.99. A single small mask can differ by more: a few
# pixels whose probability is within rounding of 0.5 flip; the table shows the smallest IoU too.
EQUALITY_TOLERANCE = {"matched_fraction": 0.95, "box_iou": 0.99, "score": 1e-3, "mask_iou": 0.99}
KERNEL_SHAPE = (1, 256, 200, 272)


def machine_description(device):
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    description = {"cpu": cpu, "logical_cpus": os.cpu_count(), "threads": torch.get_num_threads(),
                   "torch": torch.__version__, "python": platform.python_version(),
                   "load_average_start": os.getloadavg()}
    if device == "cuda":
        description["gpu"] = torch.cuda.get_device_name()
    return description


def synchronize(device):
    if device == "cuda":
        torch.cuda.synchronize()


class PeakMemory:
    """Peak memory growth during a call: RSS sampled on the CPU, peak allocated on CUDA."""

    def __init__(self, device):
        self.device = device

    def __enter__(self):
        if self.device == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self.start = torch.cuda.memory_allocated()
            return self
        _release_free_heap_memory()
        self.start = self.peak = _rss_bytes()
        self.running = True
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self):
        while self.running:
            self.peak = max(self.peak, _rss_bytes())
            time.sleep(0.002)

    def __exit__(self, *exc):
        if self.device == "cuda":
            torch.cuda.synchronize()
            self.peak = torch.cuda.max_memory_allocated()
        else:
            self.running = False
            self.thread.join()
            self.peak = max(self.peak, _rss_bytes())

    @property
    def growth_mb(self):
        return (self.peak - self.start) / 2**20


def _rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def _release_free_heap_memory():
    # So that one model's freed memory does not hide the next one's growth (glibc only).
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def timed(fn, device):
    synchronize(device)
    start = time.perf_counter()
    result = fn()
    synchronize(device)
    return time.perf_counter() - start, result


def summary(seconds):
    return {"median": statistics.median(seconds), "min": min(seconds), "max": max(seconds),
            "repeats": len(seconds), "all": seconds}


def interleaved(calls, repeats, device):
    """Time each of ``calls`` (name -> fn) ``repeats`` times, round-robin; name -> summary."""
    seconds = {name: [] for name in calls}
    for _ in range(repeats):
        for name, fn in calls.items():
            seconds[name].append(timed(fn, device)[0])
    return {name: summary(values) for name, values in seconds.items()}


# ---------------------------------------------------------------------------------------- kernel

def kernel_part(device, repeats):
    """GN(32 groups)+ReLU on a 1x256x200x272 fp32 tensor, against copying it."""
    torch.manual_seed(0)
    x = torch.randn(KERNEL_SHAPE, device=device) * 3 + 1
    norm = nn.GroupNorm(32, KERNEL_SHAPE[1]).to(device)
    with torch.no_grad():
        norm.weight.uniform_(0.5, 1.5)
        norm.bias.uniform_(-0.5, 0.5)
    out = torch.empty_like(x)
    x_cl = x.contiguous(memory_format=torch.channels_last)
    # The fast pass runs in place on the conv output; here on buffers refilled before each call
    # would time the refill too, so it runs in place on the same buffers (GN of a GN output).
    buffers = {"contiguous": x.clone(), "channels_last": x_cl.clone()}
    reference = F.relu(F.group_norm(x, 32, norm.weight, norm.bias, norm.eps))
    first_call = {}
    with torch.no_grad():
        for layout, buffer in buffers.items():
            check = buffer.clone()
            first_call[layout], result = timed(
                lambda: fused_norm.group_norm_act(check, norm, relu=True, compile=True), device)
            error = (result.float() - reference).abs().max().item()
            assert error < 1e-4, f"fast GN+ReLU ({layout}) differs from eager by {error}"
        calls = {
            "copy (clone)": lambda: x.clone(),
            "copy into an existing tensor (copy_)": lambda: out.copy_(x),
            "eager GN + in-place ReLU (ResNet blocks)":
                lambda: F.relu_(F.group_norm(x, 32, norm.weight, norm.bias, norm.eps)),
            "eager GN + ReLU (heads' nn.ReLU)":
                lambda: F.relu(F.group_norm(x, 32, norm.weight, norm.bias, norm.eps)),
            "eager GN + in-place ReLU, channels-last":
                lambda: F.relu_(F.group_norm(x_cl, 32, norm.weight, norm.bias, norm.eps)),
            "fast path GN+ReLU": lambda: fused_norm.group_norm_act(
                buffers["contiguous"], norm, relu=True, compile=True),
            "fast path GN+ReLU, channels-last": lambda: fused_norm.group_norm_act(
                buffers["channels_last"], norm, relu=True, compile=True),
        }
        results = interleaved(calls, repeats, device)
    return {"shape": list(KERNEL_SHAPE), "seconds": results,
            "first_call_seconds_including_compile": first_call,
            "compile_failed": fused_norm.compile_failed()}


# ---------------------------------------------------------------------------------------- models

def model_config(model_id, device):
    _, config_file, overrides, _ = MODELS[model_id]
    if config_file == "d2":
        config_file = model_zoo.get_config_file(D2_GN_RECIPE)
    return load_config(config_file, ["MODEL.DEVICE", device, "MODEL.WEIGHTS", "", *overrides])


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
        x = inputs[0]
        var, mean = torch.var_mean(x, dim=(0, 2, 3), unbiased=False)
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
    """model id -> (config, model with its family's weights)."""
    gn_state = gn_weights(build_model(model_config("gn_eager", device)))
    states = {"gn": gn_state}
    if any(MODELS[model_id][3] == "bn" for model_id in model_ids):
        # Calibrated on an eager model: the fast path folds FrozenBN, so it never runs it.
        states["bn"] = bn_weights(build_model(model_config("bn_eager", device)), gn_state, image)
    models = {}
    for model_id in model_ids:
        cfg = model_config(model_id, device)
        # detectron2's own model as detectron2 builds it; gn_det's as gn_det builds them.
        build = detectron2_build_model if model_id == "d2_gn" else build_model
        model = build(cfg).eval()
        model.load_state_dict(states[MODELS[model_id][3]])
        models[model_id] = (cfg, model)
    return models


# ------------------------------------------------------------------------------------- inference

def inference_part(models, image, device, repeats):
    calls, first_call, outputs = {}, {}, {}
    with torch.no_grad():
        for model_id, (_, model) in models.items():
            model.eval()
            compile_before = fused_norm.compile_seconds()
            first_call[model_id], _ = timed(lambda m=model: m([image]), device)
            first_call[model_id] = {"seconds": first_call[model_id],
                                    "compile_seconds": fused_norm.compile_seconds() - compile_before}
            calls[model_id] = lambda m=model: m([image])
        seconds = interleaved(calls, repeats, device)
        memory = {}
        for model_id, fn in calls.items():
            with PeakMemory(device) as peak:
                outputs[model_id] = fn()[0]["instances"].to("cpu")
            memory[model_id] = peak.growth_mb
    return {"seconds": seconds, "first_call": first_call, "peak_memory_mb": memory,
            "detections": {k: len(v) for k, v in outputs.items()}}, outputs


def backbone_features(model, image):
    with torch.no_grad():
        images = model.preprocess_image([image])
        return {k: v.float().cpu() for k, v in model.backbone(images.tensor).items()}


def compare(fast, reference):
    """How far ``fast``'s detections are from ``reference``'s (see EQUALITY_TOLERANCE)."""
    if len(reference) == 0 or len(fast) == 0:
        return {"matched_fraction": float(len(reference) == len(fast))}
    iou = pairwise_iou(reference.pred_boxes, fast.pred_boxes)
    iou[reference.pred_classes[:, None] != fast.pred_classes[None, :]] = 0
    best_iou, best = iou.max(dim=1)
    score_diff = (reference.scores - fast.scores[best]).abs()
    matched = ((best_iou >= EQUALITY_TOLERANCE["box_iou"])
               & (score_diff <= EQUALITY_TOLERANCE["score"]))
    ref_masks, fast_masks = reference.pred_masks[matched], fast.pred_masks[best[matched]]
    intersection = (ref_masks & fast_masks).flatten(1).sum(1).float()
    union = (ref_masks | fast_masks).flatten(1).sum(1).float()
    both_empty = union == 0
    mask_iou = torch.where(both_empty, 1.0, intersection / union.clamp(min=1))
    min_mask_iou = mask_iou.min().item() if len(ref_masks) else 1.0
    total_mask_iou = (intersection.sum() / union.sum()).item() if union.sum() > 0 else 1.0
    return {"detections": [len(reference), len(fast)],
            "matched_fraction": matched.float().mean().item(),
            "max_score_difference_matched":
                score_diff[matched].max().item() if matched.any() else None,
            "min_box_iou_matched": best_iou[matched].min().item() if matched.any() else None,
            "mask_iou_matched": total_mask_iou, "min_mask_iou_matched": min_mask_iou}


def equality_part(models, outputs, image):
    results = {}
    for fast_id, reference_id in EQUALITY_PAIRS:
        if fast_id not in models or reference_id not in models:
            continue
        result = compare(outputs[fast_id], outputs[reference_id])
        fast_features = backbone_features(models[fast_id][1], image)
        reference_features = backbone_features(models[reference_id][1], image)
        result["feature_max_relative_difference"] = max(
            ((fast_features[k] - v).abs().max() / v.abs().max()).item()
            for k, v in reference_features.items())
        result["within_tolerance"] = (
            result["matched_fraction"] >= EQUALITY_TOLERANCE["matched_fraction"]
            and result.get("mask_iou_matched", 1.0) >= EQUALITY_TOLERANCE["mask_iou"])
        results[f"{fast_id} vs {reference_id}"] = result
    return results


# -------------------------------------------------------------------------------------- training

def training_part(models, device, repeats):
    batch = training_batch(device)
    steps, first_call, memory = {}, {}, {}
    for model_id, (cfg, model) in models.items():
        cfg = cfg.clone()
        cfg.defrost()
        cfg.SOLVER.BASE_LR = 0.0  # identical work every iteration: the weights never change
        optimizer = build_optimizer(cfg, model)

        def step(model=model, optimizer=optimizer):
            model.train()
            with EventStorage():
                losses = model(batch)
            optimizer.zero_grad(set_to_none=True)
            sum(losses.values()).backward()
            optimizer.step()

        first_call[model_id], _ = timed(step, device)
        steps[model_id] = step
    seconds = interleaved(steps, repeats, device)
    for model_id, step in steps.items():
        with PeakMemory(device) as peak:
            step()
        memory[model_id] = peak.growth_mb
        models[model_id][1].eval()
    return {"seconds": seconds, "first_call_seconds": first_call, "peak_memory_mb": memory}


# ---------------------------------------------------------------------------------------- report

def ratio(results, part, slower, faster):
    try:
        return (results[part]["seconds"][slower]["median"]
                / results[part]["seconds"][faster]["median"])
    except KeyError:
        return None


def floors(results):
    kernel = results.get("kernel", {}).get("seconds", {})
    rows = []
    if kernel:
        copy = kernel["copy (clone)"]["median"]
        for name in ("fast path GN+ReLU", "fast path GN+ReLU, channels-last",
                     "eager GN + in-place ReLU (ResNet blocks)"):
            rows.append((f"{name} / copy (clone), 1x256x200x272", "<= 1.5",
                         kernel[name]["median"] / copy, kernel[name]["median"] / copy <= 1.5))
    for label, slower, faster in [
            ("detectron2 GN / gn_det GN preset (full fast path), inference", "d2_gn", "gn_fast"),
            ("detectron2 GN / gn_det on the same recipe (full fast path), inference", "d2_gn",
             "gn_det_on_d2")]:
        value = ratio(results, "inference", slower, faster)
        if value is not None:
            rows.append((label, ">= 1.3", value, value >= 1.3))
    same = results.get("equality", {}).get("gn_det_on_d2 vs d2_gn")
    if same is not None:
        rows.append(("gn_det on the same recipe: detections equal detectron2's (matched fraction)",
                     ">= 0.95, within tolerance", same["matched_fraction"],
                     same["within_tolerance"]))
    for label, gn, bn in [("GN / BN* inference, both full fast path", "gn_fast", "bn_fast"),
                          ("GN / BN* inference, both default fast path", "gn_fast_default",
                           "bn_fast_default"),
                          ("GN / BN* inference, both eager", "gn_eager", "bn_eager")]:
        value = ratio(results, "inference", gn, bn)
        if value is not None:
            rows.append((label, "<= 1.15", value, value <= 1.15))
    for label, eager, fast in [("GN training, eager / full fast path", "gn_eager", "gn_fast"),
                               ("GN training, eager / default fast path", "gn_eager",
                                "gn_fast_default")]:
        value = ratio(results, "training", eager, fast)
        if value is not None:
            rows.append((label, ">= 1.1", value, value >= 1.1))
    return [{"floor": f, "target": t, "measured": round(m, 3), "holds": bool(h)}
            for f, t, m, h in rows]


def _range(s, scale=1.0, digits=3):
    return (f"{s['median'] * scale:.{digits}f} | {s['min'] * scale:.{digits}f}–"
            f"{s['max'] * scale:.{digits}f}")


def _format(value, spec):
    return "-" if value is None else format(value, spec)


def markdown(results):
    machine = results["machine"]
    lines = [f"Machine: {machine['cpu']}"
             + (f", {machine['gpu']}" if "gpu" in machine else "")
             + f"; {machine['threads']} threads of {machine['logical_cpus']} logical CPUs; "
             f"torch {machine['torch']}; load average {machine['load_average_start'][0]:.2f} "
             f"at start, {machine['load_average_end'][0]:.2f} at end. torch.compile of the fused GN "
             f"kernels (first uses, not timed): {results['compile_seconds_total']:.1f} s.", ""]
    if "inference" in results:
        inference = results["inference"]
        lines += [f"Inference, s/image (800x1067, median and range of "
                  f"{next(iter(inference['seconds'].values()))['repeats']} interleaved repeats)", "",
                  "| model | median | range | peak memory MB | detections | first call s "
                  "(compile s) |", "|---|---|---|---|---|---|"]
        for model_id, s in inference["seconds"].items():
            first = inference["first_call"][model_id]
            lines.append(f"| {model_id}: {MODELS[model_id][0]} | {_range(s)} | "
                         f"{inference['peak_memory_mb'][model_id]:.0f} | "
                         f"{inference['detections'][model_id]} | {first['seconds']:.1f} "
                         f"({first['compile_seconds']:.1f}) |")
        lines.append("")
    if "training" in results:
        training = results["training"]
        lines += [f"Training, s/iteration (2 images of 800x1067, median and range of "
                  f"{next(iter(training['seconds'].values()))['repeats']} interleaved repeats)", "",
                  "| model | median | range | peak memory MB |", "|---|---|---|---|"]
        for model_id, s in training["seconds"].items():
            lines.append(f"| {model_id}: {MODELS[model_id][0]} | {_range(s)} | "
                         f"{training['peak_memory_mb'][model_id]:.0f} |")
        lines.append("")
    if "kernel" in results:
        kernel = results["kernel"]
        copy = kernel["seconds"]["copy (clone)"]["median"]
        lines += [f"GN(32)+ReLU pass on a {'x'.join(map(str, kernel['shape']))} fp32 tensor, ms "
                  f"(first fast call incl. compile: "
                  + ", ".join(f"{k} {v * 1e3:.0f} ms" for k, v in
                              kernel["first_call_seconds_including_compile"].items()) + ")", "",
                  "| pass | median ms | range ms | / copy (clone) |", "|---|---|---|---|"]
        for name, s in kernel["seconds"].items():
            lines.append(f"| {name} | {_range(s, 1e3, 1)} | {s['median'] / copy:.2f} |")
        lines.append("")
    if "equality" in results:
        lines += ["Outputs, fast path vs reference (same image and weights)", "",
                  "| pair | detections | matched | max score diff | min box IoU | "
                  "mask IoU (smallest) | backbone features max rel. diff | within tolerance |",
                  "|---|---|---|---|---|---|---|---|"]
        for pair, r in results["equality"].items():
            lines.append(
                f"| {pair} | {r.get('detections')} | {r['matched_fraction']:.2f} | "
                f"{_format(r.get('max_score_difference_matched'), '.1e')} | "
                f"{_format(r.get('min_box_iou_matched'), '.4f')} | "
                f"{_format(r.get('mask_iou_matched'), '.4f')} "
                f"({_format(r.get('min_mask_iou_matched'), '.3f')}) | "
                f"{r['feature_max_relative_difference']:.1e} | {r['within_tolerance']} |")
        lines.append("")
    lines += ["Floors", "", "| floor | target | measured | holds |", "|---|---|---|---|"]
    for row in results["floors"]:
        lines.append(f"| {row['floor']} | {row['target']} | {row['measured']:.3f} | "
                     f"{'yes' if row['holds'] else 'NO'} |")
    return "\n".join(lines) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--threads", type=int, default=2, help="CPU threads (torch.set_num_threads)")
    parts = ["kernel", "inference", "equality", "training"]
    parser.add_argument("--parts", nargs="+", default=parts, choices=parts)
    parser.add_argument("--models", nargs="+", default=list(MODELS), choices=list(MODELS))
    parser.add_argument("--repeats", type=int, default=5, help="timed inference calls per model")
    parser.add_argument("--kernel-repeats", type=int, default=21)
    parser.add_argument("--train-repeats", type=int, default=3, help="timed iterations per model")
    parser.add_argument("--output-dir", default="output/benchmark")
    args = parser.parse_args()

    if args.device == "cpu":
        torch.set_num_threads(args.threads)
    results = {"machine": machine_description(args.device), "command": vars(args)}
    if "kernel" in args.parts:
        results["kernel"] = kernel_part(args.device, args.kernel_repeats)
    if {"inference", "equality", "training"} & set(args.parts):
        image = inference_input(model_config("gn_eager", args.device), args.device)
        models = build_models(args.models, args.device, image)
        if {"inference", "equality"} & set(args.parts):
            results["inference"], outputs = inference_part(models, image, args.device,
                                                           args.repeats)
            if "equality" in args.parts:
                results["equality"] = equality_part(models, outputs, image)
        if "training" in args.parts:
            results["training"] = training_part(models, args.device, args.train_repeats)
    results["compile_seconds_total"] = fused_norm.compile_seconds()
    results["machine"]["load_average_end"] = os.getloadavg()
    results["floors"] = floors(results)

    os.makedirs(args.output_dir, exist_ok=True)
    with open(os.path.join(args.output_dir, "benchmark.json"), "w") as f:
        json.dump(results, f, indent=1)
    table = markdown(results)
    with open(os.path.join(args.output_dir, "benchmark.md"), "w") as f:
        f.write(table)
    print(table)


if __name__ == "__main__":
    main()

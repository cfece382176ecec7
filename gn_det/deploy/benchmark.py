"""Seconds per image of one model run four ways: eager, gn_det's default fast path, its TorchScript
export and its ONNX export in ONNX Runtime; and the exported files' sizes.

Every way is the whole predictor, image in, detections at the image's size out (resize, model,
postprocessing and mask pasting), on the same image with the same weights. Timed calls are
interleaved (A, B, C, D, A, B, ...) so that load from other processes affects all of them alike;
the table gives the median and the range. The first call of each (warm-up) is not timed.
"""
import os
import statistics
import time

import numpy as np
import torch
from detectron2.data import transforms as T
from detectron2.engine import DefaultPredictor

from ..config import get_cfg
from ..modeling import build_model
from .export import MODEL_FILES, eager_config, export_model
from .predictor import load

# (id, description) in table order.
WAYS = (("eager", "eager (MODEL.FAST_PATH.ENABLED False)"),
        ("fast_default", "default fast path"),
        ("torchscript", "TorchScript export"),
        ("onnx", "ONNX Runtime (CPU)"))


def benchmark_image(height=480, width=640, seed=0):
    """A deterministic HxWx3 uint8 BGR image with smooth blobs (as a photo has regions)."""
    small = np.random.default_rng(seed).integers(0, 256, (height // 16, width // 16, 3),
                                                 dtype=np.uint8)
    image = torch.from_numpy(small).permute(2, 0, 1)[None].float()
    image = torch.nn.functional.interpolate(image, size=(height, width), mode="bicubic")
    return image[0].permute(1, 2, 0).clamp(0, 255).to(torch.uint8).numpy()


def _predictor(cfg, model):
    # detectron2's DefaultPredictor (resize, inference, postprocessing) on a built model.
    predictor = DefaultPredictor.__new__(DefaultPredictor)
    predictor.cfg, predictor.model = cfg, model.eval()
    predictor.aug = T.ResizeShortestEdge([cfg.INPUT.MIN_SIZE_TEST] * 2, cfg.INPUT.MAX_SIZE_TEST)
    predictor.input_format = cfg.INPUT.FORMAT
    return lambda image: predictor(image)["instances"]


def build_predictors(cfg, model, class_names, export_dir, threads):
    """The four predictors of :data:`WAYS` for the eager ``model`` of ``cfg`` (weights loaded),
    exporting it into ``export_dir``; also returns the exported files' sizes in bytes."""
    eager_cfg = eager_config(cfg)
    fast_cfg = cfg.clone()
    fast_cfg.defrost()
    fast_cfg.MODEL.FAST_PATH = get_cfg().MODEL.FAST_PATH  # gn_det's defaults
    fast = build_model(fast_cfg)
    fast.load_state_dict(model.state_dict())
    predictors = {"eager": _predictor(eager_cfg, model), "fast_default": _predictor(fast_cfg, fast)}
    sizes = {}
    for export_format in ("torchscript", "onnx"):
        folder = os.path.join(export_dir, export_format)
        path = export_model(model, eager_cfg, export_format, folder, class_names, overwrite=True)
        predictors[export_format] = load(path, threads=threads)
        sizes[export_format] = os.path.getsize(path)
    return predictors, sizes


def time_predictors(predictors, image, repeats):
    """Interleaved timings: {way: {"median", "min", "max", "first", "detections"}} in seconds."""
    results = {way: {"times": []} for way in predictors}
    for way, predict in predictors.items():
        start = time.perf_counter()
        results[way]["detections"] = len(predict(image))
        results[way]["first"] = time.perf_counter() - start
    for _ in range(repeats):
        for way, predict in predictors.items():
            start = time.perf_counter()
            predict(image)
            results[way]["times"].append(time.perf_counter() - start)
    for result in results.values():
        times = result.pop("times")
        result.update(median=statistics.median(times), min=min(times), max=max(times))
    return results


def markdown(results, sizes, image_shape, threads, description):
    """The table of :func:`time_predictors`' results and the exported files' sizes."""
    lines = [f"{description}; image {image_shape[0]} x {image_shape[1]}, CPU, {threads} threads, "
             f"median (range) of interleaved calls",
             "",
             "| predictor | s/image | detections | model file |",
             "|---|---|---|---|"]
    for way, label in WAYS:
        result = results[way]
        size = (f"{MODEL_FILES[way]} {sizes[way] / 2 ** 20:.1f} MB" if way in sizes else "")
        lines.append(f"| {label} | {result['median']:.3f} ({result['min']:.3f}-{result['max']:.3f})"
                     f" | {result['detections']} | {size} |")
    return "\n".join(lines)

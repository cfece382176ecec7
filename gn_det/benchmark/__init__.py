"""Side-by-side speed and memory of gn_det's models against detectron2's own GN model.

``tools/benchmark.py`` (CPU or CUDA) and ``tools/gpu_check.py`` run it; see
:func:`run_benchmark` for what is measured. Modules: :mod:`.timing` (interleaved timing, memory,
the machine's peak FLOP/s), :mod:`.models` (the models, shared weights, inputs, FLOPs),
:mod:`.parity` (detections against a reference model's), :mod:`.parts` (the measurements),
:mod:`.allocator` (CPU memory reuse, in fresh processes), :mod:`.report` (floors and the markdown
table).
"""
import json
import os

from ..layers import fused_norm
from .allocator import allocator_part
from .models import MODELS, TRAINING_MODELS, build_models, inference_input, model_config
from .parity import TOLERANCE, all_matched, match_detections
from .parts import (
    demo_part,
    equality_part,
    inference_part,
    kernel_part,
    limit_part,
    profile_part,
    training_part,
)
from .report import floors, markdown
from .timing import machine_description, top_ops

PARTS = ["inference", "limit", "equality", "training", "demo", "kernel", "allocator"]
# (model, reference) pairs whose detections are compared.
EQUALITY_PAIRS = [("gn_det_on_d2", "d2_gn"), ("gn_default", "gn_eager"),
                  ("gn_bitexact", "gn_eager"), ("bn_default", "bn_eager")]


def run_benchmark(device, parts=PARTS, model_ids=tuple(MODELS), training_ids=TRAINING_MODELS,
                  repeats=5, train_repeats=5, demo_repeats=7, kernel_repeats=21):
    """Measure ``parts`` of ``model_ids`` on ``device``; returns the results as plain data.

    inference: s/image at the presets' test size (800x1067), first calls (which compile) apart;
    limit: peak FLOP/s (matmul, convolution) against the model's FLOPs per image; equality:
    detections against the reference model's; training: s/iteration of ``training_ids`` (2 images
    of 800x1067, forward + backward + SGD step at learning rate 0); demo: `make demo`'s training
    compute now against before (CPU only); kernel: a GN+ReLU pass against a copy; allocator: the GN
    preset's s/image and page faults with MODEL.FAST_PATH.REUSE_CPU_MEMORY off and on, in fresh
    processes (CPU only). Where a floor is missed, the profile of the models involved is added.
    """
    results = {"machine": machine_description(device)}
    if "kernel" in parts:
        results["kernel"] = kernel_part(device, kernel_repeats)
    model_parts = {"inference", "limit", "equality", "training"} & set(parts)
    models = {}
    if model_parts:
        image = inference_input(model_config("gn_eager", device), device)
        # The limit is reported for gn_det's default-config model on the detectron2 recipe.
        inference_ids = set(model_ids) | ({"gn_det_on_d2"} if "limit" in parts else set())
        wanted = inference_ids | (set(training_ids) if "training" in parts else set())
        models = build_models([m for m in MODELS if m in wanted], device, image)
        inference = {m: models[m] for m in MODELS if m in inference_ids}
        if {"inference", "limit", "equality"} & set(parts):
            results["inference"], outputs = inference_part(inference, image, device, repeats)
            if "equality" in parts:
                results["equality"] = equality_part(outputs, EQUALITY_PAIRS)
            if "limit" in parts and "gn_det_on_d2" in results["inference"]["seconds"]:
                seconds = results["inference"]["seconds"]["gn_det_on_d2"]["median"]
                results["limit"] = {"model": "gn_det_on_d2", **limit_part(
                    models["gn_det_on_d2"][1], image, seconds, device)}
        if "training" in parts:
            results["training"] = training_part({m: models[m] for m in training_ids},
                                                device, train_repeats)
    if "demo" in parts and device == "cpu":
        results["demo"] = demo_part(demo_repeats)
    if "allocator" in parts and device == "cpu":
        results["allocator"] = allocator_part()
    results["compile_seconds_total"] = fused_norm.compile_seconds()
    results["machine"]["load_average_end"] = os.getloadavg()
    results["floors"] = floors(results)
    missed = {m for row in results["floors"] if not row["holds"] for m in row["models"]}
    if missed and models:
        results["profiles"] = profile_part(models, image, sorted(missed), device)
    return results


def write_report(results, output_dir):
    """Write ``benchmark.json`` and ``benchmark.md`` into ``output_dir``; return the markdown."""
    os.makedirs(output_dir, exist_ok=True)
    with open(os.path.join(output_dir, "benchmark.json"), "w") as f:
        json.dump(results, f, indent=1)
    table = markdown(results)
    with open(os.path.join(output_dir, "benchmark.md"), "w") as f:
        f.write(table)
    return table


__all__ = ["MODELS", "PARTS", "TOLERANCE", "all_matched", "match_detections", "run_benchmark",
           "top_ops", "write_report"]

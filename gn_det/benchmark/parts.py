"""The parts of the benchmark: each builds what it needs, times it and returns plain data."""
import os
import statistics

import torch
import torch.nn.functional as F
from detectron2.utils.events import EventStorage
from torch import nn

from ..config import load_config
from ..layers import fused_norm
from ..solver import build_optimizer
from .models import CONFIG_DIR, flops_per_image, training_batch
from .parity import match_detections
from .timing import PeakMemory, interleaved, peak_flops, timed, top_ops

KERNEL_SHAPE = (1, 256, 200, 272)


def kernel_part(device, repeats):
    """GN(32 groups)+ReLU on a 1x256x200x272 fp32 tensor, against copying it."""
    torch.manual_seed(0)
    x = torch.randn(KERNEL_SHAPE, device=device) * 3 + 1
    norm = nn.GroupNorm(32, KERNEL_SHAPE[1]).to(device)
    with torch.no_grad():
        norm.weight.uniform_(0.5, 1.5)
        norm.bias.uniform_(-0.5, 0.5)
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
            "eager GN + in-place ReLU (ResNet blocks)":
                lambda: F.relu_(F.group_norm(x, 32, norm.weight, norm.bias, norm.eps)),
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


def inference_part(models, image, device, repeats):
    """s/image of every model, interleaved; first calls (which compile) timed apart."""
    calls, first_call, outputs, memory = {}, {}, {}, {}
    with torch.no_grad():
        for model_id, (_, model) in models.items():
            compile_before = fused_norm.compile_seconds()
            seconds, _ = timed(lambda m=model: m([image]), device)
            compiled = fused_norm.compile_seconds() - compile_before
            first_call[model_id] = {"seconds": seconds, "compile_seconds": compiled}
            calls[model_id] = lambda m=model: m([image])
        seconds = interleaved(calls, repeats, device)
        for model_id, fn in calls.items():
            with PeakMemory(device) as peak:
                outputs[model_id] = fn()[0]["instances"].to("cpu")
            memory[model_id] = peak.growth_mb
    return {"seconds": seconds, "first_call": first_call, "peak_memory_mb": memory,
            "detections": {k: len(v) for k, v in outputs.items()}}, outputs


def equality_part(outputs, pairs):
    """Detections of each (model, reference) pair compared (see :mod:`.parity`). On the
    benchmark's random weights many scores are near-tied, so a few may swap at the cut."""
    return {f"{model_id} vs {reference_id}": match_detections(outputs[reference_id],
                                                              outputs[model_id])
            for model_id, reference_id in pairs if model_id in outputs and reference_id in outputs}


def _training_step(cfg, model):
    """``step(batch)``: one training iteration of ``model``."""
    cfg = cfg.clone()
    cfg.defrost()
    cfg.SOLVER.BASE_LR = 0.0  # identical work every iteration: the weights never change
    optimizer = build_optimizer(cfg, model)

    def step(batch):
        model.train()
        with EventStorage():
            losses = model(batch)
        optimizer.zero_grad(set_to_none=True)
        sum(losses.values()).backward()
        optimizer.step()
    return step


def training_part(models, device, repeats, batch=None):
    """s/iteration (forward, backward, SGD step) of every model on the same batch, interleaved."""
    batch = batch or training_batch(device)
    steps, first_call, memory = {}, {}, {}
    for model_id, (cfg, model) in models.items():
        step = _training_step(cfg, model)
        steps[model_id] = lambda step=step: step(batch)
        first_call[model_id], _ = timed(steps[model_id], device)
    seconds = interleaved(steps, repeats, device)
    for model_id, step in steps.items():
        with PeakMemory(device) as peak:
            step()
        memory[model_id] = peak.growth_mb
        models[model_id][1].eval()
    return {"seconds": seconds, "first_call_seconds": first_call, "peak_memory_mb": memory}


def limit_part(model, image, seconds_per_image, device):
    """The machine's limit: peak FLOP/s (the best of a matmul and a convolution) against the
    model's FLOPs per image; the fraction of peak the model reaches at ``seconds_per_image``."""
    kernels = peak_flops(device)
    peak = max(kernels.values())
    flops = flops_per_image(model, image)
    return {"peak_flops": peak, "peak_flops_by_kernel": kernels, "flops_per_image": flops,
            "limit_seconds_per_image": flops / peak,
            "fraction_of_peak": flops / seconds_per_image / peak}


def profile_part(models, image, model_ids, device):
    """Top operators of one inference of each of ``model_ids`` (explains a missed floor)."""
    with torch.no_grad():
        return {model_id: top_ops(lambda m=models[model_id][1]: m([image]))
                for model_id in model_ids if model_id in models}


# The demo (`make demo`) as it is, and as it was before the issue "Performance by default":
# 4 images per batch, 64 RoIs per image with a quarter foreground, on the bit-identical fast path
# (the defaults then).
DEMO_CONFIG = os.path.join(CONFIG_DIR, "shapes_mask_rcnn_R18_FPN_gn.yaml")
DEMO_BEFORE = ["SOLVER.IMS_PER_BATCH", 4, "MODEL.ROI_HEADS.BATCH_SIZE_PER_IMAGE", 64,
               "MODEL.ROI_HEADS.POSITIVE_FRACTION", 0.25, "MODEL.FAST_PATH.COMPILE", False,
               "MODEL.FAST_PATH.CHANNELS_LAST", False]
DEMO_BEFORE_ITERATIONS = 2000


def demo_part(repeats, warmup=2):
    """Training compute of `make demo` (iterations x s/iteration) now against before, s/iteration
    timed interleaved on the same shapes_train batches."""
    from ..engine import Trainer  # the trainer's data loader and model build

    configs = {"before": load_config(DEMO_CONFIG, ["MODEL.DEVICE", "cpu", *DEMO_BEFORE]),
               "now": load_config(DEMO_CONFIG, ["MODEL.DEVICE", "cpu"])}
    loader = iter(Trainer.build_train_loader(configs["before"]))  # 4 images per batch
    batches = [next(loader) for _ in range(warmup + repeats)]
    steps = {}
    for name, cfg in configs.items():
        torch.manual_seed(0)
        images = cfg.SOLVER.IMS_PER_BATCH
        step = _training_step(cfg, Trainer.build_model(cfg))
        steps[name] = lambda batch, step=step, images=images: step(batch[:images])
    seconds = {name: [] for name in steps}
    for i, batch in enumerate(batches):
        for name, step in steps.items():
            elapsed, _ = timed(lambda: step(batch), "cpu")
            if i >= warmup:
                seconds[name].append(elapsed)
    result = {}
    for name, cfg in configs.items():
        median = statistics.median(seconds[name])
        iterations = DEMO_BEFORE_ITERATIONS if name == "before" else cfg.SOLVER.MAX_ITER
        result[name] = {"images_per_batch": cfg.SOLVER.IMS_PER_BATCH, "iterations": iterations,
                        "seconds_per_iteration": median, "all": seconds[name],
                        "training_compute_seconds": iterations * median}
    result["compute_ratio"] = (result["now"]["training_compute_seconds"]
                               / result["before"]["training_compute_seconds"])
    return result

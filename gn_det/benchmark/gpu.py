"""What ``tools/gpu_check.py`` runs on one CUDA GPU (a few minutes): the fast path's parity with
eager, short trainings with and without AMP, and the benchmark table."""
import math
import tempfile
import time

import torch
from detectron2.modeling import build_model as detectron2_build_model

from ..data import ensure_shapes_split
from . import run_benchmark
from .parity import all_matched
from .shapes import briefly_trained_weights, demo_config, match_on_val_images, trained_model

FULL_FAST_PATH = ["MODEL.FAST_PATH.COMPILE", True, "MODEL.FAST_PATH.CHANNELS_LAST", True]
EAGER = ["MODEL.FAST_PATH.ENABLED", False]
BENCHMARK_MODELS = ["d2_gn", "gn_det_on_d2", "gn_default", "bn_default"]


def check_parity(device="cuda"):
    """The full fast path (COMPILE, CHANNELS_LAST forced on) against eager on briefly trained
    demo weights: every eager detection matched on 6 shapes_val images."""
    weights = briefly_trained_weights(device)
    cfg = demo_config(device, *FULL_FAST_PATH)
    eager = trained_model(weights, demo_config(device, *EAGER), detectron2_build_model)
    results = match_on_val_images(eager, trained_model(weights, cfg), cfg)
    return {"images": len(results), "all_matched": all(all_matched(r) for r in results),
            "per_image": results}


def check_amp_training(device="cuda", iterations=20):
    """``iterations`` of gn_det's Trainer on the demo config, with and without SOLVER.AMP."""
    from ..engine import Trainer

    results = {}
    for amp in (False, True):
        with tempfile.TemporaryDirectory() as output_dir:
            cfg = demo_config(device, "SOLVER.AMP.ENABLED", amp, "SOLVER.MAX_ITER", iterations,
                              "TEST.EVAL_PERIOD", 0, "OUTPUT_DIR", output_dir)
            trainer = Trainer(cfg)
            start = time.perf_counter()
            trainer.train()
            loss = trainer.storage.history("total_loss").latest()
            results[f"AMP {'on' if amp else 'off'}"] = {
                "seconds_per_iteration": (time.perf_counter() - start) / iterations,
                "last_total_loss": loss, "finite": math.isfinite(loss)}
    return results


def run_gpu_check(device="cuda", repeats=5):
    """Every check; returns (results, benchmark results)."""
    for split in ("shapes_train", "shapes_val"):
        ensure_shapes_split(split)
    results = {"device": torch.cuda.get_device_name(), "parity": check_parity(device),
               "amp_training": check_amp_training(device)}
    benchmark = run_benchmark(device, ["inference", "limit", "training"], BENCHMARK_MODELS,
                              BENCHMARK_MODELS, repeats=repeats, train_repeats=repeats)
    return results, benchmark

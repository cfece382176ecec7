"""On trained weights, the CPU's default fast path (channels-last, compiled GroupNorm, the fast
RoIAlign) detects what the eager model detects, to the tolerance of gn_det.benchmark.parity, and
scores the same AP on shapes_val.

The weights come from a short shapes training made here (the demo model, 60 iterations of 2
images), so that scores and masks are spread as a trained model's are, not a random one's.
"""
import pytest
import torch
from detectron2.modeling import build_model as detectron2_build_model

from gn_det.benchmark.parity import all_matched
from gn_det.benchmark.shapes import (
    briefly_trained_weights,
    demo_config,
    match_on_val_images,
    trained_model,
    val_ap,
)
from gn_det.layers import fused_norm

# Trains or exports whole models (minutes on 2 CPU cores): `make test-slow` runs them.
pytestmark = pytest.mark.slow

EAGER = ["MODEL.FAST_PATH.ENABLED", False]
# The short training's scores are low: keep its weak detections too (more to compare).
LOW_THRESHOLD = ["MODEL.ROI_HEADS.SCORE_THRESH_TEST", 0.01]


@pytest.fixture(scope="module")
def trained_weights(shapes_train_cache):
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GN_DET_SHAPES_DIR", str(shapes_train_cache))
        return briefly_trained_weights("cpu", iterations=60, warmup=10)


def test_default_fast_path_matches_every_eager_detection(trained_weights, shapes_train_env,
                                                         monkeypatch):
    # Most of the demo's tensors are under 1 MiB: send every GroupNorm through the compiled kernels.
    monkeypatch.setattr(fused_norm, "CPU_MIN_COMPILED_BYTES", 0)
    cfg = demo_config("cpu", *LOW_THRESHOLD)
    eager = trained_model(trained_weights, demo_config("cpu", *EAGER, *LOW_THRESHOLD),
                          detectron2_build_model)
    default = trained_model(trained_weights, cfg)
    assert default.backbone.bottom_up.stem.conv1.weight.is_contiguous(
        memory_format=torch.channels_last)  # the CPU default
    results = match_on_val_images(eager, default, cfg, num_images=10)
    assert all(all_matched(r) for r in results), results
    assert sum(r["detections"][0] for r in results) >= 20, "too few detections to compare"
    assert not fused_norm.compile_failed()


def test_default_fast_path_ap_on_shapes_val_is_the_eager_ap(trained_weights, shapes_train_env):
    cfg = demo_config("cpu", *LOW_THRESHOLD)
    eager_ap = val_ap(trained_model(trained_weights, demo_config("cpu", *EAGER, *LOW_THRESHOLD)),
                      cfg)
    default_ap = val_ap(trained_model(trained_weights, cfg), cfg)
    # 60 iterations reach box AP ~0.3: low, but every one of its detections must score alike.
    assert eager_ap[0] > 0.1, f"the short training should detect something: {eager_ap}"
    assert abs(default_ap[0] - eager_ap[0]) <= 0.1 and abs(default_ap[1] - eager_ap[1]) <= 0.1, (
        eager_ap, default_ap)

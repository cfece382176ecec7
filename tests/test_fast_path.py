"""The fast path keeps a model's parameters and computes its outputs, in inference and training.

Tolerance: every intermediate output (backbone features, RPN logits and deltas, box scores and
deltas, mask logits) of the fast model is within RELATIVE_TOLERANCE of the eager model's, measured
as max |fast - eager| / max |eager|. Eager and fast differ only in float summation order
(channels-last convolutions, FrozenBN folded into the conv, GN statistics reduced per row then per
group), so the differences are float32 rounding, amplified through the network's depth; PyTorch's
eager GroupNorm on channels-last tensors sums less accurately than on contiguous ones (3e-5 against
1e-6 of the output's scale on a 1x256x200x272 tensor), which the fast path uses for small tensors.
"""
import pytest
import torch
from detectron2.layers import Conv2d, FrozenBatchNorm2d
from detectron2.modeling import build_model as detectron2_build_model
from detectron2.structures import Boxes
from detectron2.utils.events import EventStorage
from torch import nn

from conftest import preset_cfg
from gn_det.layers import FusedConv2d, fused_norm
from gn_det.layers.roi_align import FastROIPooler
from gn_det.modeling import build_model
from gn_det.modeling import fast_path
from gn_det.modeling.fast_path import FastBottleneckBlock, FastPathOptions
from test_modeling_train_and_infer import TINY, training_input

RELATIVE_TOLERANCE = 5e-4
FPN_GN = "mask_rcnn_R50_FPN_gn.yaml"
FPN_BN = "mask_rcnn_R50_FPN_bnfrozen.yaml"
FULL_FAST_PATH = ["MODEL.FAST_PATH.COMPILE", True, "MODEL.FAST_PATH.CHANNELS_LAST", True]
EAGER = ["MODEL.FAST_PATH.ENABLED", False]
# The fused convs only: bit-identical to eager (the default where nothing else was measured).
BIT_EXACT = ["MODEL.FAST_PATH.COMPILE", False, "MODEL.FAST_PATH.CHANNELS_LAST", False]
# A BN* ResNet at its initialization (FrozenBN = identity) grows its activations block by block;
# statistics of the order of the activations keep them in range, as a trained BN* network's are.
BN_RUNNING_VAR = 50.0


def eager_and_fast(preset, *overrides):
    """The eager model (detectron2's build) and the full-fast-path model with the same weights."""
    eager = detectron2_build_model(preset_cfg(preset, *EAGER, *TINY, *overrides))
    with torch.no_grad():
        for param in eager.parameters():
            param.add_(torch.randn_like(param) * 0.01)
        for module in eager.modules():
            if isinstance(module, FrozenBatchNorm2d):
                module.running_var.fill_(BN_RUNNING_VAR)
    fast = build_model(preset_cfg(preset, *FULL_FAST_PATH, *TINY, *overrides))
    fast.load_state_dict(eager.state_dict())
    return eager, fast


def stage_outputs(model, batch, proposals):
    """Every stage's output, the RoI heads run on the given proposals (no top-k ties)."""
    images = model.preprocess_image(batch)
    features = model.backbone(images.tensor)
    rpn = model.proposal_generator
    logits, deltas = rpn.rpn_head([features[f] for f in rpn.in_features])
    heads = model.roi_heads
    boxes = [p.proposal_boxes for p in proposals]
    box_features = heads.box_pooler([features[f] for f in heads.box_in_features], boxes)
    scores, box_deltas = heads.box_predictor(heads.box_head(box_features))
    mask_features = heads.mask_pooler([features[f] for f in heads.mask_in_features], boxes)
    return {**features, **{f"rpn_logits{i}": t for i, t in enumerate(logits)},
            **{f"rpn_deltas{i}": t for i, t in enumerate(deltas)},
            "box_scores": scores, "box_deltas": box_deltas,
            "mask_logits": heads.mask_head.layers(mask_features)}


def relative_difference(a, b):
    return ((a.float() - b.float()).abs().max() / b.float().abs().max().clamp(min=1e-12)).item()


def proposals_of(model, batch):
    with torch.no_grad():
        images = model.preprocess_image(batch)
        proposals, _ = model.proposal_generator(images, model.backbone(images.tensor))
    return proposals


def inference_batch():
    return [{"image": torch.randint(0, 256, (3, 64, 96), dtype=torch.uint8).float(),
             "height": 64, "width": 96},
            {"image": torch.randint(0, 256, (3, 80, 72), dtype=torch.uint8).float(),
             "height": 80, "width": 72}]


@pytest.mark.parametrize("preset,overrides,compile_all", [
    (FPN_GN, [], True),  # every GN through the compiled in-place kernels
    (FPN_GN, ["MODEL.GN.WEIGHT_STANDARDIZATION", True], False),
    (FPN_BN, [], False),
], ids=["gn", "gn_ws", "bn_frozen"])
def test_full_fast_path_inference_equals_eager(preset, overrides, compile_all, monkeypatch):
    if compile_all:  # test tensors are mostly under 1 MiB, which stay on eager GN
        monkeypatch.setattr(fused_norm, "CPU_MIN_COMPILED_BYTES", 0)
    eager, fast = eager_and_fast(preset, *overrides)
    eager.eval(), fast.eval()
    batch = inference_batch()
    proposals = proposals_of(eager, batch)
    with torch.no_grad():
        expected = stage_outputs(eager, batch, proposals)
        actual = stage_outputs(fast, batch, proposals)
        detections = fast(batch)
    differences = {k: relative_difference(actual[k], v) for k, v in expected.items()}
    assert max(differences.values()) <= RELATIVE_TOLERANCE, differences
    assert not fused_norm.compile_failed()
    assert all(len(d["instances"]) > 0 for d in detections)


def test_training_step_through_the_full_fast_path_matches_eager():
    eager, fast = eager_and_fast(FPN_GN)
    batch = [training_input(64, 96, [[4, 6, 40, 50], [30, 10, 90, 60]]),
             training_input(72, 80, [[10, 10, 60, 70]])]
    losses, grads = {}, {}
    for name, model in (("eager", eager), ("fast", fast)):
        model.train()
        torch.manual_seed(0)  # the same proposal and anchor sampling for both
        with EventStorage():
            losses[name] = model(batch)
        sum(losses[name].values()).backward()
        grads[name] = {k: p.grad.clone() for k, p in model.named_parameters() if p.grad is not None}
    for key, value in losses["eager"].items():
        assert relative_difference(losses["fast"][key], value) <= RELATIVE_TOLERANCE, key
    # A ReLU turns a rounding difference into a full gradient difference where an activation is
    # within rounding of 0, so gradients differ by about the square root of the fraction of such
    # activations: ~1e-5 here, so ~0.3% per tensor (float64 shows eager float32 equally far off).
    assert grads["fast"].keys() == grads["eager"].keys()
    differences = sorted((grads["fast"][k] - g).norm() / g.norm().clamp(min=1e-12)
                         for k, g in grads["eager"].items())
    assert differences[len(differences) // 2] <= 0.02 and differences[-1] <= 0.05, differences[-5:]
    torch.optim.SGD(fast.parameters(), lr=0.01).step()
    assert fast.backbone.bottom_up.res3[0].conv2.weight.is_contiguous(
        memory_format=torch.channels_last)


def test_fast_path_keeps_module_names_parameters_and_norm_types():
    eager, fast = eager_and_fast(FPN_GN)
    assert [n for n, _ in fast.named_modules()] == [n for n, _ in eager.named_modules()]
    assert list(fast.state_dict()) == list(eager.state_dict())
    assert all(torch.equal(fast.state_dict()[k], v) for k, v in eager.state_dict().items())
    norm_types = {type(m.norm) for m in fast.modules() if isinstance(m, Conv2d) and m.norm}
    assert norm_types == {nn.GroupNorm}


def test_fast_path_switches():
    bit_exact = detectron2_build_model(preset_cfg(FPN_BN, *BIT_EXACT, *TINY))
    convs = [m for m in bit_exact.backbone.modules() if isinstance(m, Conv2d)]
    assert convs and all(isinstance(m, FusedConv2d) for m in convs)
    assert isinstance(bit_exact.backbone.bottom_up.res2[0], FastBottleneckBlock)
    assert not bit_exact.backbone.bottom_up.res2[0].conv2.weight.is_contiguous(
        memory_format=torch.channels_last)

    eager = detectron2_build_model(preset_cfg(FPN_BN, *EAGER, *TINY))
    assert not any(isinstance(m, (FusedConv2d, FastBottleneckBlock, FastROIPooler))
                   for m in eager.modules())

    fast = build_model(preset_cfg(FPN_BN, *FULL_FAST_PATH, *TINY))
    assert isinstance(fast.roi_heads.box_pooler, FastROIPooler)
    assert isinstance(fast.proposal_generator.rpn_head.conv, FusedConv2d)
    assert fast.backbone.bottom_up.res2[0].conv2.weight.is_contiguous(
        memory_format=torch.channels_last)


@pytest.mark.parametrize("device,overrides,expected", [
    ("cpu", [], (True, True, True)),  # measured faster on the CPU: on by default
    ("cuda", [], (False, False, False)),  # not measured on a GPU yet: the bit-identical path
    ("cuda", FULL_FAST_PATH, (True, True, False)),
    ("cpu", BIT_EXACT, (False, False, True)),
    ("cpu", ["MODEL.FAST_PATH.COMPILE", False], (True, False, True)),
    ("cpu", ["MODEL.FAST_PATH.REUSE_CPU_MEMORY", False], (True, True, False)),
])
def test_default_options_follow_the_device_and_explicit_values_win(device, overrides, expected):
    cfg = preset_cfg(FPN_GN, *overrides)
    cfg.MODEL.DEVICE = device  # load_config falls back to the CPU without a GPU
    options = FastPathOptions.from_config(cfg)
    assert (options.channels_last, options.compile_norm, options.reuse_cpu_memory) == expected


def test_building_for_the_cpu_sets_up_the_allocator_once_asked(monkeypatch):
    calls = []
    monkeypatch.setattr(fast_path, "reuse_freed_memory", lambda: calls.append(1))
    build_model(preset_cfg(FPN_GN, *TINY, "MODEL.FAST_PATH.REUSE_CPU_MEMORY", False))
    assert not calls
    build_model(preset_cfg(FPN_GN, *TINY))
    assert calls


def test_cpu_default_builds_the_full_fast_path():
    default = build_model(preset_cfg(FPN_GN, *TINY))
    assert isinstance(default.roi_heads.box_pooler, FastROIPooler)
    assert default.backbone.bottom_up.res2[0].conv2.weight.is_contiguous(
        memory_format=torch.channels_last)
    assert default.backbone.bottom_up.res2[0].conv2.compile_norm


def test_bit_identical_fast_path_gives_bit_identical_gn_detections():
    eager = detectron2_build_model(preset_cfg(FPN_GN, *EAGER, *TINY)).eval()
    bit_exact = detectron2_build_model(preset_cfg(FPN_GN, *BIT_EXACT, *TINY)).eval()
    bit_exact.load_state_dict(eager.state_dict())
    batch = inference_batch()
    with torch.no_grad():
        expected, actual = eager(batch), bit_exact(batch)
    for e, a in zip(expected, actual):
        assert torch.equal(e["instances"].pred_boxes.tensor, a["instances"].pred_boxes.tensor)
        assert torch.equal(e["instances"].pred_masks, a["instances"].pred_masks)


def test_empty_proposals_pass_through_the_fast_poolers():
    _, fast = eager_and_fast(FPN_GN)
    fast.eval()
    features = fast.backbone(torch.zeros(1, 3, 64, 96))
    pooled = fast.roi_heads.box_pooler([features[f] for f in fast.roi_heads.box_in_features],
                                       [Boxes(torch.zeros(0, 4))])
    assert pooled.shape == (0, 256, 7, 7)

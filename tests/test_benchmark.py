"""gn_det.benchmark: the parity tolerance, FLOP counting, floors, the order of timed calls, and the GPU
check's CPU exit."""
import os
import subprocess
import sys

import pytest
import torch
from detectron2.structures import Boxes, Instances
from torch import nn

from gn_det.benchmark.models import flops_per_image
from gn_det.benchmark.parity import all_matched, match_detections
from gn_det.benchmark.report import floors, markdown
from gn_det.benchmark.timing import interleaved, summary

GPU_CHECK = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools",
                         "gpu_check.py")


def detections(boxes, scores, classes, masks):
    instances = Instances((20, 20))
    instances.pred_boxes = Boxes(torch.tensor(boxes, dtype=torch.float32))
    instances.scores = torch.tensor(scores)
    instances.pred_classes = torch.tensor(classes)
    instances.pred_masks = torch.stack(masks)
    return instances


def square_mask(x0, y0, x1, y1):
    mask = torch.zeros(20, 20, dtype=torch.bool)
    mask[y0:y1, x0:x1] = True
    return mask


REFERENCE = detections([[0, 0, 100, 100], [0, 0, 10, 10]], [0.9, 0.5], [1, 2],
                       [square_mask(0, 0, 10, 10), square_mask(0, 0, 10, 10)])


@pytest.mark.parametrize("change,matched", [
    ({}, 2),
    ({"order": [1, 0]}, 2),  # matching does not depend on the order
    ({"box": [0, 0, 100, 99.5]}, 2),  # IoU 0.995
    ({"box": [0, 0, 100, 98.5]}, 1),  # IoU 0.985 < 0.99
    ({"score": 0.9 + 9e-4}, 2),
    ({"score": 0.9 + 2e-3}, 1),
    ({"class": 3}, 1),
    ({"mask": square_mask(0, 0, 10, 10) | square_mask(10, 0, 11, 1)}, 2),  # IoU 100/101
    ({"mask": square_mask(0, 0, 10, 10) | square_mask(10, 0, 11, 3)}, 1),  # IoU 100/103 < 0.98
])
def test_every_reference_detection_must_match_within_the_tolerance(change, matched):
    boxes = [change.get("box", [0, 0, 100, 100]), [0, 0, 10, 10]]
    masks = [change.get("mask", square_mask(0, 0, 10, 10)), square_mask(0, 0, 10, 10)]
    other = detections(boxes, [change.get("score", 0.9), 0.5], [change.get("class", 1), 2], masks)
    other = other[change.get("order", [0, 1])]
    result = match_detections(REFERENCE, other)
    assert result["matched"] == matched
    assert all_matched(result) is (matched == 2)


def test_a_missing_detection_is_unmatched():
    assert match_detections(REFERENCE, REFERENCE[[1]])["unmatched"] == [0]


class Layers(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3, padding=1, groups=1)
        self.grouped = nn.Conv2d(8, 8, 3, stride=2, groups=4)
        self.deconv = nn.ConvTranspose2d(8, 4, 2, stride=2)
        self.fc = nn.Linear(4 * 12 * 12, 10)

    def forward(self, batch):
        x = self.deconv(self.grouped(self.conv(batch[0]["image"][None])))
        return self.fc(x.flatten(1))


def test_flops_are_twice_the_multiply_adds_of_convs_deconvs_and_linear_layers():
    from fvcore.nn import FlopCountAnalysis  # detectron2's FLOP counter (1 per multiply-add)

    model = Layers()
    image = torch.randn(3, 13, 13)
    expected = 2 * FlopCountAnalysis(model, ([{"image": image}],)).total()
    by_hand = 2 * (8 * 13 * 13 * 3 * 9 + 8 * 6 * 6 * 2 * 9 + 8 * 6 * 6 * 4 * 4 + 576 * 10)
    assert flops_per_image(model, {"image": image}) == expected == by_hand


def results_with(seconds):
    """Benchmark results with the given inference and training medians."""
    def part(values):
        return {"seconds": {m: {"median": s, "min": s, "max": s, "repeats": 5, "all": [s]}
                            for m, s in values.items()}}
    return {"inference": part(seconds["inference"]), "training": part(seconds["training"])}


def test_floors_hold_at_their_targets_and_not_below():
    results = results_with({
        "inference": {"d2_gn": 1.3, "gn_det_on_d2": 1.0, "gn_default": 1.11, "bn_default": 1.0},
        "training": {"d2_gn": 1.19, "gn_det_on_d2": 1.0}})
    holds = {row["floor"].split(",")[0]: row["holds"] for row in floors(results)}
    assert holds == {"default-config inference": True, "default-config training step": False,
                     "GN / BN* inference": False}


def test_the_report_prints_every_floor_and_the_machine_limit():
    results = results_with({"inference": {"d2_gn": 2.6, "gn_det_on_d2": 2.0},
                            "training": {"d2_gn": 3.0, "gn_det_on_d2": 2.0}})
    results["inference"].update(peak_memory_mb={"d2_gn": 1, "gn_det_on_d2": 1},
                                detections={"d2_gn": 1, "gn_det_on_d2": 1},
                                first_call={m: {"seconds": 1, "compile_seconds": 0}
                                            for m in ("d2_gn", "gn_det_on_d2")})
    results["training"]["peak_memory_mb"] = {"d2_gn": 1, "gn_det_on_d2": 1}
    results.update(machine={"cpu": "x", "threads": 2, "logical_cpus": 2, "torch": "t",
                            "load_average_start": [1.0], "load_average_end": [2.0]},
                   compile_seconds_total=0.0, floors=None,
                   limit={"model": "gn_det_on_d2", "peak_flops": 1e11, "flops_per_image": 5e10,
                          "peak_flops_by_kernel": {"matmul 2048x2048": 4e10,
                                                   "conv 3x3 256ch 200x272": 1e11},
                          "limit_seconds_per_image": 0.5, "fraction_of_peak": 0.25})
    results["allocator"] = {"model": "gn_default", "processes": 1, "calls": 2,
                            "off": {"seconds": summary([2.5, 2.3]), "page_faults_median": 250000},
                            "on": {"seconds": summary([2.0, 2.0]), "page_faults_median": 0}}
    results["floors"] = floors(results)
    table = markdown(results)
    assert "| default-config inference, detectron2's GN model / gn_det on the same recipe | " \
           ">= 1.3 | 1.300 | yes |" in table
    assert "| off | 2.400 | 2.300–2.500 | 250000 |" in table and "off / on: 1.200" in table
    assert "at **25% of peak**" in table and "matmul 2048x2048 40, conv" in table
    assert "load average (1 min) 1.00 at start" in table


def test_gpu_check_without_a_gpu_says_so_and_exits_0():
    done = subprocess.run([sys.executable, GPU_CHECK], capture_output=True, text=True,
                          env={**os.environ, "CUDA_VISIBLE_DEVICES": ""}, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("gpu_check: no CUDA GPU found"), done.stdout


def test_interleaved_rounds_rotate_so_no_call_always_follows_the_same_one():
    order = []
    calls = {name: (lambda name=name: order.append(name)) for name in "ABC"}
    seconds = interleaved(calls, 3, "cpu")
    assert order == list("ABCBCACAB")
    assert {name: s["repeats"] for name, s in seconds.items()} == {"A": 3, "B": 3, "C": 3}

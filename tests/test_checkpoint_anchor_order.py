"""Detectron RPN rows land on the detectron2 anchor with the same box (C4: reordered; FPN: as is).

The expected pairing is built from the anchors themselves: Detectron's cell anchors from its
published formula (detectron/modeling/generate_anchors.py, in float64 here) and detectron2's from
the model's DefaultAnchorGenerator, matched by box overlap.
"""
import pickle

import numpy as np
import pytest
import torch
from detectron2.modeling.anchor_generator import RotatedAnchorGenerator
from detectron2.modeling import build_model

from conftest import preset_cfg
from gn_det.checkpoint import AnchorOrderError, load_weights
from gn_det.checkpoint.anchor_order import AnchorLayout, anchor_layout

DETECTRON_RATIOS = (0.5, 1.0, 2.0)


def detectron_cell_anchors(stride, sizes, aspect_ratios=DETECTRON_RATIOS):
    """Detectron's generate_anchors: for each aspect ratio (rounded to whole pixels on a
    stride x stride box), each size; boxes (x1, y1, x2, y2) with inclusive corners."""
    ratios = np.array(aspect_ratios, dtype=np.float64)
    center = 0.5 * (stride - 1)
    ratio_widths = np.round(np.sqrt(stride * stride / ratios))
    ratio_heights = np.round(ratio_widths * ratios)
    anchors = []
    for width, height in zip(ratio_widths, ratio_heights):
        for scale in np.array(sizes, dtype=np.float64) / stride:
            w, h = width * scale, height * scale
            anchors.append([center - 0.5 * (w - 1), center - 0.5 * (h - 1),
                            center + 0.5 * (w - 1), center + 0.5 * (h - 1)])
    return np.array(anchors)


def centered_overlap(detectron_anchor, detectron2_anchor):
    """IoU of the two boxes moved to one center (Detectron's boxes include their last pixel)."""
    x1, y1, x2, y2 = detectron_anchor
    w1, h1 = x2 - x1 + 1, y2 - y1 + 1
    x1, y1, x2, y2 = detectron2_anchor
    w2, h2 = x2 - x1, y2 - y1
    inter = min(w1, w2) * min(h1, h2)
    return inter / (w1 * h1 + w2 * h2 - inter)


def same_box_pairs(detectron_anchors, detectron2_anchors):
    """{detectron2 anchor index: Detectron anchor index} of the same box."""
    pairs = {}
    for k, anchor in enumerate(detectron_anchors):
        overlaps = [centered_overlap(anchor, other) for other in detectron2_anchors]
        j = int(np.argmax(overlaps))
        assert overlaps[j] > 0.85 and sorted(overlaps)[-2] < 0.7, "no unique same-box anchor"
        pairs[j] = k
    assert sorted(pairs) == list(range(len(detectron2_anchors)))
    return pairs


def detectron_rpn_file(path, num_anchors, channels, suffix=""):
    """A Detectron RPN: row k of rpn_cls_logits holds k, rows 4k..4k+3 of rpn_bbox_pred 10k + c."""
    cls_rows = np.arange(num_anchors, dtype=np.float32)
    box_rows = (10 * np.repeat(np.arange(num_anchors), 4) + np.tile(np.arange(4), num_anchors))
    box_rows = box_rows.astype(np.float32)
    blobs = {
        f"rpn_cls_logits{suffix}_w": np.broadcast_to(
            cls_rows[:, None, None, None], (num_anchors, channels, 1, 1)).copy(),
        f"rpn_cls_logits{suffix}_b": cls_rows,
        f"rpn_bbox_pred{suffix}_w": np.broadcast_to(
            box_rows[:, None, None, None], (4 * num_anchors, channels, 1, 1)).copy(),
        f"rpn_bbox_pred{suffix}_b": box_rows,
    }
    with open(path, "wb") as file:
        pickle.dump({"blobs": blobs}, file, protocol=2)


def assert_rows_follow_boxes(model, pairs):
    head = model.proposal_generator.rpn_head
    for j, k in pairs.items():
        assert head.objectness_logits.bias[j] == k, f"anchor {j} got Detectron anchor " \
            f"{int(head.objectness_logits.bias[j])}'s objectness, not {k}'s (same box)"
        assert torch.all(head.objectness_logits.weight[j] == k)
        for c in range(4):
            assert head.anchor_deltas.bias[4 * j + c] == 10 * k + c
            assert torch.all(head.anchor_deltas.weight[4 * j + c] == 10 * k + c)


@pytest.fixture(scope="module")
def c4_model():
    return build_model(preset_cfg("mask_rcnn_R50_C4_bnfrozen.yaml"))


def test_c4_rpn_rows_land_on_the_anchor_with_the_same_box(c4_model, tmp_path):
    generator = c4_model.proposal_generator.anchor_generator
    cell_anchors = list(generator.cell_anchors)[0].double().numpy()
    pairs = same_box_pairs(detectron_cell_anchors(16, (32, 64, 128, 256, 512)), cell_anchors)
    assert sum(j != k for j, k in pairs.items()) == 12, "Detectron's order differs on 12 of 15"
    path = str(tmp_path / "model_final.pkl")
    detectron_rpn_file(path, 15, c4_model.proposal_generator.rpn_head.conv.in_channels)

    load_weights(c4_model, path)

    assert_rows_follow_boxes(c4_model, pairs)


def test_fpn_rpn_rows_keep_their_order_as_one_size_per_level_agrees(tmp_path):
    model = build_model(preset_cfg("mask_rcnn_R50_FPN_bnfrozen.yaml"))
    cell_anchors = list(model.proposal_generator.anchor_generator.cell_anchors)
    pairs_per_level = [
        same_box_pairs(detectron_cell_anchors(2 ** level, (32 * 2 ** (level - 2),)),
                       cell_anchors[level - 2].double().numpy())
        for level in range(2, 7)
    ]
    assert all(pairs == {0: 0, 1: 1, 2: 2} for pairs in pairs_per_level)
    path = str(tmp_path / "model_final.pkl")
    detectron_rpn_file(path, 3, model.proposal_generator.rpn_head.conv.in_channels, "_fpn2")

    load_weights(model, path)

    assert_rows_follow_boxes(model, pairs_per_level[0])


def test_anchor_layout_is_read_from_the_models_anchor_generator(c4_model):
    assert anchor_layout(c4_model) == AnchorLayout(num_sizes=5, num_ratios=3)
    assert AnchorLayout(5, 3).detectron_index()[:4] == [0, 5, 10, 1]


def test_c4_rpn_for_anchors_gn_det_cannot_order_is_refused(tmp_path):
    model = build_model(preset_cfg("mask_rcnn_R50_C4_bnfrozen.yaml"))
    model.proposal_generator.anchor_generator = RotatedAnchorGenerator(
        sizes=[[32, 64, 128, 256, 512]], aspect_ratios=[[0.5, 1.0, 2.0]], strides=[16],
        angles=[[0]])
    path = str(tmp_path / "model_final.pkl")
    detectron_rpn_file(path, 15, model.proposal_generator.rpn_head.conv.in_channels)

    with pytest.raises(AnchorOrderError, match="by aspect ratio then size.*DefaultAnchorGenerator"):
        load_weights(model, path)


class DeviceTensor(torch.Tensor):
    """Like a CUDA tensor (the anchors of a model on the GPU): no numpy() before .cpu()."""

    def numpy(self, *args, **kwargs):
        raise TypeError("can't convert cuda:0 device type tensor to numpy. Use Tensor.cpu() to "
                        "copy the tensor to host memory first.")

    def cpu(self, *args, **kwargs):
        return self.as_subclass(torch.Tensor).cpu(*args, **kwargs)


def test_anchor_layout_reads_anchors_that_live_on_another_device(c4_model):
    buffers = c4_model.proposal_generator.anchor_generator.cell_anchors._buffers
    on_cpu = dict(buffers)
    try:
        for name, cell in on_cpu.items():
            buffers[name] = cell.as_subclass(DeviceTensor)
        assert anchor_layout(c4_model) == AnchorLayout(num_sizes=5, num_ratios=3)
    finally:
        buffers.update(on_cpu)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_anchor_layout_of_a_model_on_the_gpu():
    model = build_model(preset_cfg("mask_rcnn_R50_C4_bnfrozen.yaml", "MODEL.DEVICE", "cuda"))
    assert anchor_layout(model) == AnchorLayout(num_sizes=5, num_ratios=3)

"""How far one model's detections are from a reference model's on the same image.

The tolerance is the one that matters to a user (issue "Performance by default"): every reference
detection has a match in the other model's detections with the same class, box IoU >= 0.99, score
within 1e-3 and mask IoU >= 0.98. Paths that only change float rounding (channels-last, compiled
GroupNorm, the fast RoIAlign) stay well within it on trained weights.
"""
from dataclasses import dataclass

import torch
from detectron2.structures import pairwise_iou


@dataclass(frozen=True)
class Tolerance:
    box_iou: float = 0.99
    score: float = 1e-3
    mask_iou: float = 0.98


TOLERANCE = Tolerance()


def _mask_iou(a, b):
    intersection = (a & b).flatten(1).sum(1).float()
    union = (a | b).flatten(1).sum(1).float()
    return torch.where(union == 0, 1.0, intersection / union.clamp(min=1))


def match_detections(reference, other, tolerance=TOLERANCE):
    """Match each detection of ``reference`` (``Instances``) to the best one of ``other``.

    Returns a dict: ``detections`` [reference, other], ``matched`` (how many reference detections
    have a match within ``tolerance``), ``unmatched`` (their indices), and the worst box IoU, score
    difference and mask IoU over the best matches of every reference detection.
    """
    result = {"detections": [len(reference), len(other)], "matched": 0, "unmatched": []}
    if len(reference) == 0:
        return result
    if len(other) == 0:
        result["unmatched"] = list(range(len(reference)))
        return result
    iou = pairwise_iou(reference.pred_boxes, other.pred_boxes)
    iou[reference.pred_classes[:, None] != other.pred_classes[None, :]] = -1
    # Best match: the same class and box, then the closest score (ties of near-duplicate boxes).
    score_difference = (reference.scores[:, None] - other.scores[None, :]).abs()
    candidates = iou >= tolerance.box_iou
    cost = torch.where(candidates, score_difference, float("inf"))
    best = torch.where(candidates.any(1), cost.argmin(1), iou.argmax(1))
    rows = torch.arange(len(reference))
    box_iou, score = iou[rows, best], score_difference[rows, best]
    ok = (box_iou >= tolerance.box_iou) & (score <= tolerance.score)
    mask_iou = torch.ones(len(reference))
    if reference.has("pred_masks") and other.has("pred_masks"):
        mask_iou = _mask_iou(reference.pred_masks, other.pred_masks[best])
        ok &= mask_iou >= tolerance.mask_iou
    result.update(matched=int(ok.sum()), unmatched=torch.nonzero(~ok)[:, 0].tolist(),
                  min_box_iou=box_iou.min().item(), max_score_difference=score.max().item(),
                  min_mask_iou=mask_iou.min().item())
    return result


def all_matched(result):
    return result["matched"] == result["detections"][0]

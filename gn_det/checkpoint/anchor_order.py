"""Detectron's single-level RPN outputs, reordered to detectron2's order of anchors.

At each location Detectron enumerates anchors by aspect ratio, then by size
(``generate_anchors``: ``_ratio_enum``, then ``_scale_enum`` of each ratio's anchor);
detectron2's ``DefaultAnchorGenerator`` by size, then by aspect ratio. ``rpn_cls_logits`` has one
row per anchor and ``rpn_bbox_pred`` four consecutive rows per anchor (Detectron's
GenerateProposals reshapes its ``(4 * A, H, W)`` output to ``(H * W * A, 4)``; detectron2's RPN
views ``(A, 4, H, W)``). Copied unchanged, as detectron2's converter does, a C4 RPN with 5 sizes x
3 ratios would give 12 of its 15 anchors another anchor's rows. Detectron's FPN RPNs
(``rpn_*_fpn<k>`` blobs) have one size per level, where both orders agree.
"""
from dataclasses import dataclass

import numpy as np
from detectron2.modeling.anchor_generator import DefaultAnchorGenerator

from ..errors import GNDetError

# Single-level (C4) RPN blobs and their rows per anchor.
ROWS_PER_ANCHOR = {"rpn_cls_logits_w": 1, "rpn_cls_logits_b": 1,
                   "rpn_bbox_pred_w": 4, "rpn_bbox_pred_b": 4}
_OBJECTNESS_KEY = "proposal_generator.rpn_head.objectness_logits.weight"


class AnchorOrderError(GNDetError, ValueError):
    """A Detectron RPN whose rows cannot be put in the model's order of anchors."""


@dataclass(frozen=True)
class AnchorLayout:
    """Anchors per location of a detectron2 model: ``num_sizes`` x ``num_ratios``."""

    num_sizes: int
    num_ratios: int

    def detectron_index(self):
        """For each of detectron2's anchors (size-major), its index in Detectron's (ratio-major)."""
        return [ratio * self.num_sizes + size
                for size in range(self.num_sizes) for ratio in range(self.num_ratios)]


def _cell_layout(cell_anchors):
    """The layout of one level's cell anchors, in the order DefaultAnchorGenerator makes them."""
    # On the model's device (a CUDA model's anchors are CUDA tensors, which numpy cannot read).
    boxes = cell_anchors.detach().cpu().double().numpy()
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    # Each size's anchors share its area (size ** 2) and come one after another.
    num_ratios = 1
    while num_ratios < len(areas) and np.isclose(areas[num_ratios], areas[0], rtol=1e-4):
        num_ratios += 1
    if len(areas) % num_ratios:
        return None
    return AnchorLayout(len(areas) // num_ratios, num_ratios)


def anchor_layout(model):
    """The model's :class:`AnchorLayout` (the same on every level), or None when unknown."""
    generator = getattr(getattr(model, "proposal_generator", None), "anchor_generator", None)
    if not isinstance(generator, DefaultAnchorGenerator):
        return None
    layouts = {_cell_layout(cell) for cell in generator.cell_anchors}
    return layouts.pop() if len(layouts) == 1 else None


def _num_anchors(arrays):
    """Anchors per location of the file's single-level RPN; None without one or if inconsistent."""
    counts = {arrays[name].shape[0] // rows for name, rows in ROWS_PER_ANCHOR.items()
              if name in arrays}
    return counts.pop() if len(counts) == 1 else None


def reorder_single_level_rpn(arrays, layout, model_state_dict, source):
    """``arrays`` (Detectron blobs) with the C4 RPN rows in the order of ``layout``'s anchors.

    Raises AnchorOrderError when the rows would load into the model but its anchor layout is
    unknown. When the file has another number of anchors than the model, the rows are left as
    they are: the coverage report shows the shape mismatch.
    """
    num_anchors = _num_anchors(arrays)
    if num_anchors is None or num_anchors == 1:
        return arrays
    if layout is None:
        objectness = model_state_dict.get(_OBJECTNESS_KEY)
        if objectness is not None and objectness.shape[0] == num_anchors:
            raise AnchorOrderError(
                f"{source}: Detectron orders the {num_anchors} anchors of its RPN by aspect ratio "
                "then size, detectron2 by size then ratio, and the model's anchors do not come "
                "from detectron2's DefaultAnchorGenerator with the same sizes and ratios on every "
                "level, so gn_det cannot reorder the rows of rpn_cls_logits / rpn_bbox_pred. "
                "Use MODEL.ANCHOR_GENERATOR.NAME DefaultAnchorGenerator.")
        return arrays
    if layout.num_sizes * layout.num_ratios != num_anchors:
        return arrays
    order = layout.detectron_index()
    reordered = dict(arrays)
    for name, rows in ROWS_PER_ANCHOR.items():
        if name in arrays:
            grouped = arrays[name].reshape(num_anchors, rows, *arrays[name].shape[1:])
            reordered[name] = grouped[order].reshape(arrays[name].shape)
    return reordered

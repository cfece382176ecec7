"""The rules for one annotation: what is an error, what is skipped, and what training keeps.

:func:`check_annotation` returns the problems of an annotation as ``(kind, detail)`` pairs, kinds
of :data:`gn_det.data.validation.KINDS`, and the annotation as training uses it. The validation
report and the training data (:mod:`.training_records`) both follow it, so what the log counts as
skipped is exactly what training leaves out.
"""
import math

from detectron2.structures import BoxMode


def is_finite_number(value):
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def is_integer(value):
    return isinstance(value, int) and not isinstance(value, bool)


def is_positive_integer(value):
    return is_integer(value) and value > 0


def compressed_rle_counts(counts):
    """The run lengths of a COCO compressed RLE string (pycocotools' ``rleFrString``)."""
    if isinstance(counts, bytes):
        counts = counts.decode("ascii")
    runs, position = [], 0
    while position < len(counts):
        value, shift, more = 0, 0, True
        while more:
            chunk = ord(counts[position]) - 48
            value |= (chunk & 0x1F) << shift
            more = chunk & 0x20
            position, shift = position + 1, shift + 5
            if not more and chunk & 0x10:
                value |= -1 << shift
        if len(runs) > 2:
            value += runs[-2]
        runs.append(value)
    return runs


def _rle_problem(rle, width, height):
    size = rle.get("size")
    if not (isinstance(size, (list, tuple)) and len(size) == 2
            and all(map(is_positive_integer, size))):
        return "malformed_mask", f"RLE 'size' {size!r} is not [height, width]"
    if width is not None and height is not None and list(size) != [height, width]:
        return ("rle_size_mismatch", f"the RLE mask is {size[0]}x{size[1]} (height x width) "
                f"but its image is {height}x{width}")
    counts = rle.get("counts")
    try:
        runs = compressed_rle_counts(counts) if isinstance(counts, (str, bytes)) else counts
        valid = all(map(is_integer, runs)) and min(runs, default=0) >= 0
    except (IndexError, TypeError, UnicodeDecodeError):
        valid = False
    if not valid:
        return "malformed_mask", "RLE 'counts' is not a valid run-length encoding"
    if sum(runs) != size[0] * size[1]:
        # pycocotools would write past the end of the mask when decoding it.
        return ("malformed_mask", f"RLE 'counts' covers {sum(runs)} pixels, not the "
                f"{size[0]}x{size[1]} of its 'size'")
    return None


def check_annotation(annotation, width, height):
    """The problems of one annotation, and the annotation as training uses it.

    ``annotation`` has a ``bbox`` [x, y, width, height] and optionally a ``segmentation``;
    ``width`` and ``height`` are its image's (None when unknown). Returns ``(problems, usable)``:
    ``problems`` a list of ``(kind, detail)``, ``usable`` the annotation with degenerate polygons
    removed, or None when it is skipped or malformed.
    """
    bbox = annotation.get("bbox")
    if not (isinstance(bbox, (list, tuple)) and len(bbox) == 4
            and all(map(is_finite_number, bbox))):
        return [("malformed_box", f"bbox is {bbox!r}")], None
    x, y, w, h = bbox
    if w <= 0 or h <= 0:
        return [("box_without_area", f"bbox {list(bbox)} has no area")], None
    if width is not None and height is not None and (x >= width or y >= height or x + w <= 0
                                                      or y + h <= 0):
        return [("box_outside_image", f"bbox {list(bbox)} lies outside the {width}x{height} "
                 "image")], None
    segmentation = annotation.get("segmentation")
    if not segmentation:
        return [], annotation
    if isinstance(segmentation, dict):
        problem = _rle_problem(segmentation, width, height)
        return ([problem], None) if problem else ([], annotation)
    if not isinstance(segmentation, list) or not all(
            isinstance(p, list) and all(map(is_finite_number, p)) for p in segmentation):
        return [("malformed_mask", "segmentation is neither a list of polygons (lists of "
                 "numbers) nor an RLE dict")], None
    polygons = [p for p in segmentation if len(p) >= 6 and len(p) % 2 == 0]
    problems = [("degenerate_polygon", f"polygon {i} has {len(p)} coordinates")
                for i, p in enumerate(segmentation) if len(p) < 6 or len(p) % 2]
    if not polygons:
        return problems, None
    return problems, (annotation if len(polygons) == len(segmentation)
                      else {**annotation, "segmentation": polygons})


def with_xywh_box(annotation):
    """``annotation`` with its ``bbox`` as [x, y, width, height] (detectron2 dicts may use other
    box modes)."""
    mode = annotation.get("bbox_mode", BoxMode.XYWH_ABS)
    bbox = annotation.get("bbox")
    if mode == BoxMode.XYWH_ABS or not isinstance(bbox, (list, tuple)):
        return annotation
    return {**annotation, "bbox": BoxMode.convert(list(bbox), mode, BoxMode.XYWH_ABS)}


def usable_annotations(record):
    """``record`` with only the annotations training uses (see :func:`check_annotation`)."""
    width, height = record.get("width"), record.get("height")
    kept = []
    for annotation in record.get("annotations", []):
        usable = check_annotation(with_xywh_box(annotation), width, height)[1]
        if usable is None:
            continue
        if usable.get("segmentation") is not annotation.get("segmentation"):
            annotation = {**annotation, "segmentation": usable["segmentation"]}
        kept.append(annotation)
    return {**record, "annotations": kept}

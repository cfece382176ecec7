"""The fields of a dataset that detectron2's training and COCO evaluation read, by how it is used.

A field that is missing only where evaluation reads it passes training and fails hours later, at
the first evaluation, with a KeyError in pycocotools; these lists let validation find it first.
They follow the code that reads the fields (detectron2 v0.6, pycocotools 2.0):

* a COCO json file is read by detectron2's ``load_coco_json`` (data/datasets/coco.py): each
  image's ``id``, ``file_name``, ``height``, ``width``; each category's ``id`` and ``name`` (the
  class names); each annotation's ``image_id`` and ``category_id`` (and ``bbox``, ``iscrowd``,
  ``segmentation``, ``keypoints`` when present); an ``ignore`` other than 0 fails an assertion;
* training (data/detection_utils.py ``transform_instance_annotations``,
  ``annotations_to_instances``) reads each annotation's ``bbox``, ``bbox_mode`` (set to XYWH by
  load_coco_json) and ``category_id``, and, in a mask model (MODEL.MASK_ON), the ``segmentation``
  of every object; ``iscrowd`` is optional (``obj.get("iscrowd", 0)`` in DatasetMapper);
* COCO evaluation (evaluation/coco_evaluation.py ``COCOEvaluator``) loads the dataset's json file
  into pycocotools' ``COCO``, whose ``createIndex`` reads each annotation's ``id``, ``image_id``
  and ``category_id``; ``COCOeval.computeIoU`` reads ``iscrowd`` and ``bbox`` (``segmentation``
  through ``COCO.annToRLE`` for mask AP), ``COCOeval.evaluateImg`` reads ``area``;
* a dataset registered from dataset dicts has no json file: COCOEvaluator first writes one with
  ``convert_to_coco_json``, which computes ``area`` and ``iscrowd`` (default 0) itself and reads
  each record's ``width``, ``height`` and ``file_name`` and each annotation's ``bbox``,
  ``bbox_mode`` and ``category_id``; pycocotools then reads that file as above;
* an evaluated image's ``height`` and ``width`` size the tensor its predicted masks are pasted
  into (modeling/postprocessing.py ``detector_postprocess``, ``torch.zeros``), which refuses a float
  such as 60.0 although training and box evaluation accept it: gn_det's evaluation mapper
  (:mod:`gn_det.data.evaluation_mapper`) passes whole floats on as integers.
"""
from dataclasses import dataclass

from .annotation_checks import is_finite_number, is_integer


@dataclass(frozen=True)
class Use:
    """How a dataset is used, which decides the fields it needs."""

    evaluated: bool = False  # COCO evaluation reads its ground truth (a DATASETS.TEST dataset)
    masks: bool = False  # a mask model (MODEL.MASK_ON) trains on, or evaluates, its masks


# What reads each field, for the error message.
_EVALUATION = "COCO evaluation (pycocotools COCOeval)"
READERS = {
    "image_id": "detectron2's load_coco_json and pycocotools",
    "category_id": "detectron2's training and pycocotools",
    "bbox": "detectron2's training",
    "bbox_mode": "detectron2's training (detection_utils.transform_instance_annotations)",
    "area": f"{_EVALUATION}.evaluateImg",
    "iscrowd": f"{_EVALUATION}.computeIoU",
    "segmentation": "a mask model's training and mask evaluation (MODEL.MASK_ON)",
    "name": "detectron2's load_coco_json (the class names)",
    "width": "detectron2's COCOEvaluator (convert_to_coco_json)",
    "height": "detectron2's COCOEvaluator (convert_to_coco_json)",
}


def json_annotation_fields(use):
    """The fields each annotation of a COCO json file needs for ``use``."""
    return (("image_id", "category_id", "bbox") + (("area", "iscrowd") if use.evaluated else ())
            + (("segmentation",) if use.masks else ()))


def record_annotation_fields(use):
    """The fields each annotation of a detectron2 dataset dict needs for ``use``."""
    return ("category_id", "bbox", "bbox_mode") + (("segmentation",) if use.masks else ())


def record_image_fields(use):
    """The fields each detectron2 dataset dict (one image) needs for ``use``."""
    return ("file_name",) + (("width", "height") if use.evaluated else ())


def _value_problem(field, value):
    if field == "area" and not is_finite_number(value):
        return f"'area' is {value!r}, not a number"
    if field == "iscrowd" and value not in (0, 1):
        return f"'iscrowd' is {value!r}, not 0 or 1"
    return None


def missing_fields(entry, fields):
    """The fields of ``fields`` that ``entry`` lacks (an empty segmentation counts as none)."""
    return [field for field in fields
            if field not in entry or (field == "segmentation" and not entry[field])]


def field_problems(entry, fields):
    """One line per field of ``fields`` that ``entry`` lacks or has an unusable value of, naming
    the field and what reads it."""
    problems = [f"has no '{field}', which {READERS[field]} reads"
                for field in missing_fields(entry, fields)]
    problems += [problem for field in fields if field in entry
                 for problem in [_value_problem(field, entry[field])] if problem]
    return problems


def ignore_problem(annotation):
    """Why detectron2's load_coco_json would stop on the ``ignore`` of ``annotation``, else None."""
    value = annotation.get("ignore", 0)
    return None if value == 0 else f"'ignore' is {value!r}: detectron2's load_coco_json asserts 0"


def pixel_count(value):
    """``value`` as a positive whole number of pixels (60 or 60.0), else None."""
    if is_integer(value) and value > 0:
        return value
    if isinstance(value, float) and value.is_integer() and value > 0:
        return int(value)
    return None


def image_size_problem(width, height):
    """Why an image's ``width`` and ``height`` are not a usable size, else None."""
    for field, value in (("width", width), ("height", height)):
        if pixel_count(value) is None:
            return f"'{field}' is {value!r}, not a positive whole number of pixels"
    return None


def dataset_uses(cfg, training=True):
    """``{name: Use}`` of every dataset a run of ``cfg`` reads: the training sets (when
    ``training``) and the evaluated ``DATASETS.TEST``, in order, each once."""
    names = (list(cfg.DATASETS.TRAIN) if training else []) + list(cfg.DATASETS.TEST)
    return {name: Use(evaluated=name in cfg.DATASETS.TEST, masks=cfg.MODEL.MASK_ON)
            for name in names}

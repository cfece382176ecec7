"""COCO evaluation: pycocotools (the reference) or faster-coco-eval, with no predictions scored AP 0.

``TEST.COCO_EVAL_BACKEND`` picks the backend:

* ``"pycocotools"`` (default): COCO's own evaluation code, the reference every published number uses
  (detectron2's C++ COCOeval_opt when detectron2 was built with its extension).
* ``"faster_coco_eval"``: the same evaluation in C++ (``pip install gn_det[fast-eval]``); its 12
  summary numbers equal pycocotools' to 1e-6 (tests/test_evaluation_backends.py,
  tools/benchmark_coco_eval.py on a 5000-image results file), several times faster.
"""
import contextlib
import copy
import math

import numpy as np
from detectron2.evaluation import COCOEvaluator
from detectron2.evaluation import coco_evaluation

from . import compat
from .errors import ConfigError, GNDetError

COCO_EVAL_BACKENDS = ("pycocotools", "faster_coco_eval")


class BackendNotInstalledError(GNDetError, ImportError):
    """TEST.COCO_EVAL_BACKEND names a backend whose package is not installed."""


def load_faster_coco_eval():
    """The faster_coco_eval module, or a BackendNotInstalledError that says how to install it."""
    try:
        import faster_coco_eval
    except ImportError:
        raise BackendNotInstalledError(
            "TEST.COCO_EVAL_BACKEND 'faster_coco_eval' needs the faster-coco-eval package: "
            "pip install 'gn_det[fast-eval]' (or pip install faster-coco-eval), or set "
            "TEST.COCO_EVAL_BACKEND pycocotools."
        ) from None
    return faster_coco_eval


def check_backend(backend):
    """Raise a one-line error (ConfigError, BackendNotInstalledError) for an unknown backend or a
    missing package."""
    if backend not in COCO_EVAL_BACKENDS:
        raise ConfigError(f"TEST.COCO_EVAL_BACKEND={backend!r} is not a COCO evaluation backend; "
                          f"use one of {list(COCO_EVAL_BACKENDS)}.")
    if backend == "faster_coco_eval":
        load_faster_coco_eval()


def evaluate_with_faster_coco_eval(faster_gt, coco_results, iou_type, img_ids=None,
                                   max_dets_per_image=None):
    """detectron2's ``_evaluate_predictions_on_coco``, computed by faster-coco-eval.

    ``faster_gt`` is the ground truth loaded by faster-coco-eval (``faster_coco_eval.COCO``).
    Returns the evaluated ``COCOeval_faster``, whose ``stats`` and ``eval["precision"]`` are what
    detectron2 reads from pycocotools' COCOeval.
    """
    faster_coco_eval = load_faster_coco_eval()
    coco_dt = _load_results(faster_coco_eval, faster_gt, coco_results, iou_type)
    coco_eval = faster_coco_eval.COCOeval_faster(faster_gt, coco_dt, iou_type)
    coco_eval.params.maxDets = list(max_dets_per_image or [1, 10, 100])
    if img_ids is not None:
        coco_eval.params.imgIds = img_ids
    coco_eval.evaluate()
    coco_eval.accumulate()
    coco_eval.summarize()
    coco_eval.stats = np.asarray(coco_eval.stats[:12])
    return coco_eval


def _load_results(faster_coco_eval, faster_gt, coco_results, iou_type):
    """faster-coco-eval's ``COCO.loadRes`` for detectron2's bbox and segm results (same fields and
    values), with all masks' areas and boxes computed in one call instead of one per result."""
    mask = faster_coco_eval.mask
    annotations = [result.copy() for result in coco_results]  # the caller's dicts stay as they were
    if iou_type == "segm":
        # As detectron2 does: the mask's box, not the predicted one, so that the mask's area
        # decides small/medium/large.
        rles = [annotation["segmentation"] for annotation in annotations]
        for annotation, area, box in zip(annotations, mask.area(rles), mask.toBbox(rles)):
            annotation["area"], annotation["bbox"] = area, box
    else:
        for annotation in annotations:
            annotation["area"] = annotation["bbox"][2] * annotation["bbox"][3]
    for index, annotation in enumerate(annotations, start=1):
        annotation["id"], annotation["iscrowd"] = index, 0
    results = faster_coco_eval.COCO()
    results.dataset = {"images": list(faster_gt.dataset["images"]), "annotations": annotations,
                       "categories": copy.deepcopy(faster_gt.dataset["categories"])}
    results.createIndex()
    return results


@contextlib.contextmanager
def _detectron2_evaluates_with(evaluate):
    # detectron2's COCOEvaluator calls its module's _evaluate_predictions_on_coco by name and has
    # no argument for another implementation; swap it for the duration of one evaluation.
    original = coco_evaluation._evaluate_predictions_on_coco
    coco_evaluation._evaluate_predictions_on_coco = evaluate
    try:
        yield
    finally:
        coco_evaluation._evaluate_predictions_on_coco = original


class GNDetCOCOEvaluator(COCOEvaluator):
    """detectron2's COCOEvaluator with a choice of backend (see the module docstring).

    A model that predicts nothing (early in training, or broken) gets AP 0 and a warning instead
    of detectron2's NaN, so metrics, plots and comparisons stay numbers.
    """

    def __init__(self, dataset_name, output_dir=None, backend="pycocotools", **kwargs):
        check_backend(backend)
        kwargs.setdefault("use_fast_impl", compat.has_cpp_extension())
        super().__init__(dataset_name, output_dir=output_dir, **kwargs)
        self._backend = backend
        self._faster_gt = None

    def _eval_predictions(self, predictions, img_ids=None):
        if self._backend == "pycocotools":
            return super()._eval_predictions(predictions, img_ids)
        if self._faster_gt is None:  # a copy: faster-coco-eval adds keys to the annotations
            self._faster_gt = load_faster_coco_eval().COCO(
                copy.deepcopy(self._coco_api.dataset))

        pycocotools_evaluate = coco_evaluation._evaluate_predictions_on_coco

        def evaluate(coco_gt, coco_results, iou_type, img_ids=None, max_dets_per_image=None,
                     **kwargs):
            if iou_type == "keypoints" or (max_dets_per_image or [1, 10, 100])[2] != 100:
                # Keypoint OKS and custom maxDets summaries stay on detectron2's own path.
                return pycocotools_evaluate(coco_gt, coco_results, iou_type, img_ids=img_ids,
                                            max_dets_per_image=max_dets_per_image, **kwargs)
            return evaluate_with_faster_coco_eval(self._faster_gt, coco_results, iou_type, img_ids,
                                                  max_dets_per_image)

        self._logger.info("COCO evaluation backend: faster-coco-eval")
        with _detectron2_evaluates_with(evaluate):
            return super()._eval_predictions(predictions, img_ids)

    def _derive_coco_results(self, coco_eval, iou_type, class_names=None):
        results = super()._derive_coco_results(coco_eval, iou_type, class_names)
        if coco_eval is None:
            self._logger.warning(f"No {iou_type} predictions on {self._metadata.name}: AP is 0.")
            return {metric: 0.0 if math.isnan(value) else value for metric, value in results.items()}
        return results


def evaluator_from_config(cfg, dataset_name, output_dir=None, **kwargs):
    """A :class:`GNDetCOCOEvaluator` with the backend of ``TEST.COCO_EVAL_BACKEND``."""
    return GNDetCOCOEvaluator(dataset_name, output_dir=output_dir,
                              backend=cfg.TEST.COCO_EVAL_BACKEND, **kwargs)

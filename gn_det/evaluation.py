"""COCO evaluation through pycocotools, with an empty prediction set scored as AP 0."""
import math

from detectron2.evaluation import COCOEvaluator

from . import compat


class GNDetCOCOEvaluator(COCOEvaluator):
    """detectron2's COCOEvaluator; pycocotools unless detectron2 has its fast C++ evaluation.

    A model that predicts nothing (early in training, or broken) gets AP 0 and a warning instead
    of detectron2's NaN, so metrics, plots and comparisons stay numbers.
    """

    def __init__(self, dataset_name, output_dir=None, **kwargs):
        kwargs.setdefault("use_fast_impl", compat.has_cpp_extension())
        super().__init__(dataset_name, output_dir=output_dir, **kwargs)

    def _derive_coco_results(self, coco_eval, iou_type, class_names=None):
        results = super()._derive_coco_results(coco_eval, iou_type, class_names)
        if coco_eval is None:
            self._logger.warning(f"No {iou_type} predictions on {self._metadata.name}: AP is 0.")
            return {metric: 0.0 if math.isnan(value) else value for metric, value in results.items()}
        return results

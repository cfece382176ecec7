"""GNDetCOCOEvaluator: a model that predicts nothing scores AP 0 with a warning, not NaN."""
import logging
import math

import torch
from detectron2.data import DatasetCatalog
from detectron2.structures import Boxes, Instances

from gn_det.evaluation import GNDetCOCOEvaluator


def no_instances(record):
    instances = Instances((record["height"], record["width"]))
    instances.pred_boxes = Boxes(torch.zeros(0, 4))
    instances.scores = torch.zeros(0)
    instances.pred_classes = torch.zeros(0, dtype=torch.int64)
    instances.pred_masks = torch.zeros(0, record["height"], record["width"], dtype=torch.bool)
    return instances


def test_no_predictions_score_ap_0_with_a_warning(small_shapes, tmp_path, caplog):
    evaluator = GNDetCOCOEvaluator("shapes_val", tasks=("bbox", "segm"), output_dir=str(tmp_path))
    evaluator.reset()
    for record in DatasetCatalog.get("shapes_val"):
        evaluator.process([{"image_id": record["image_id"]}], [{"instances": no_instances(record)}])
    # detectron2's loggers may not propagate once setup_logger has run: listen to this one.
    evaluator._logger.addHandler(caplog.handler)
    try:
        results = evaluator.evaluate()
    finally:
        evaluator._logger.removeHandler(caplog.handler)

    for task in ("bbox", "segm"):
        assert results[task]["AP"] == 0.0
        assert not any(math.isnan(value) for value in results[task].values())
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert "No bbox predictions on shapes_val: AP is 0." in warnings
    assert "No segm predictions on shapes_val: AP is 0." in warnings

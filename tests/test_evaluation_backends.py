"""faster-coco-eval gives pycocotools' numbers, directly and through GNDetCOCOEvaluator."""
import importlib.util
import json
import os
import uuid

import pytest
from detectron2.data import DatasetCatalog
from detectron2.data.datasets import register_coco_instances
from pycocotools.coco import COCO

from gn_det.config import load_config
from gn_det.evaluation import GNDetCOCOEvaluator, check_backend, evaluator_from_config

pytest.importorskip("faster_coco_eval")

TOOLS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tools")


def load_tool(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(TOOLS, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


benchmark_coco_eval = load_tool("benchmark_coco_eval")


@pytest.fixture(scope="module")
def coco_files(tmp_path_factory):
    """A generated COCO-like ground truth (40 images) and 30 detections per image with masks."""
    ground_truth, results = benchmark_coco_eval.generate(num_images=40, detections_per_image=30)
    directory = tmp_path_factory.mktemp("coco")
    gt_path = str(directory / "gt.json")
    with open(gt_path, "w") as f:
        json.dump(ground_truth, f)
    return gt_path, results


def test_the_12_bbox_and_segm_numbers_equal_pycocotools(coco_files):
    gt_path, results = coco_files
    report = benchmark_coco_eval.compare(gt_path, results, repeats=1)
    for task, result in report["tasks"].items():
        pycocotools, faster = result["stats"]["pycocotools"], result["stats"]["faster_coco_eval"]
        assert len(pycocotools) == len(faster) == 12
        assert 0 < pycocotools[0] < 1, task  # a meaningful AP, not an empty evaluation
        assert result["max_abs_difference"] <= 1e-6, (task, pycocotools, faster)


def evaluator_results(gt_path, backend, results):
    name = f"gn_det_eval_test_{uuid.uuid4().hex}"
    register_coco_instances(name, {}, gt_path, os.path.dirname(gt_path))
    DatasetCatalog.get(name)  # sets the class names and the id map in the metadata
    evaluator = GNDetCOCOEvaluator(name, tasks=("bbox", "segm"), backend=backend,
                                   use_fast_impl=False)
    evaluator.reset()
    evaluator._predictions = results
    return evaluator.evaluate()


def as_predictions(gt_path, results):
    """detectron2's per-image prediction records for the generated results."""
    coco = COCO(gt_path)
    id_map = {cat: i for i, cat in enumerate(sorted(coco.getCatIds()))}
    by_image = {}
    for r in results:
        record = dict(r, category_id=id_map[r["category_id"]])
        by_image.setdefault(r["image_id"], []).append(record)
    return [{"image_id": image_id, "instances": instances}
            for image_id, instances in by_image.items()]


def test_evaluator_backends_report_the_same_results(coco_files):
    gt_path, results = coco_files
    predictions = as_predictions(gt_path, results)
    reference = evaluator_results(gt_path, "pycocotools", predictions)
    faster = evaluator_results(gt_path, "faster_coco_eval", as_predictions(gt_path, results))
    assert reference.keys() == faster.keys() == {"bbox", "segm"}
    for task in reference:
        assert reference[task].keys() == faster[task].keys()
        assert "AP-class_1" in reference[task]  # per-class APs read from eval["precision"] too
        for metric, value in reference[task].items():
            expected = pytest.approx(value, abs=1e-4, nan_ok=True)  # APs are in percent
            assert faster[task][metric] == expected, (task, metric)


def test_backend_comes_from_config_and_unknown_ones_fail():
    cfg = load_config(None, ["TEST.COCO_EVAL_BACKEND", "faster_coco_eval"])
    assert cfg.TEST.COCO_EVAL_BACKEND == "faster_coco_eval"
    assert load_config(None).TEST.COCO_EVAL_BACKEND == "pycocotools"
    with pytest.raises(ValueError, match="not a COCO evaluation backend"):
        check_backend("cocoapi")
    with pytest.raises(ValueError, match="not a COCO evaluation backend"):
        evaluator_from_config(load_config(None, ["TEST.COCO_EVAL_BACKEND", "fast"]), "unused")

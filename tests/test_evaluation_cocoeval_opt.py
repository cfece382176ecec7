"""With its C++ extension, detectron2's COCOeval_opt gives pycocotools' 12 numbers on shapes_val."""
import contextlib
import copy
import io

import numpy as np
import pycocotools.mask as mask_util
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from gn_det import compat
from gn_det.data import ensure_shapes_split

pytestmark = pytest.mark.skipif(
    not compat.has_cpp_extension(),
    reason="detectron2 was installed without its C++ extension (detectron2._C), so it has no "
           "COCOeval_opt; make test-upstream builds one that has")


def detections_near(coco_gt, seed=0):
    """Mask R-CNN-like results for every shapes_val image: each object found as a shifted, grown or
    shrunk copy of its mask (sometimes twice, sometimes with the wrong class), objects missed, and
    false positives copied from other images."""
    rng = np.random.default_rng(seed)
    category_ids = coco_gt.getCatIds()
    annotations = list(coco_gt.anns.values())
    results = []

    def add(mask, image_id, category_id, score):
        rle = mask_util.encode(np.asfortranarray(mask.astype(np.uint8)))
        if mask_util.area(rle) == 0:
            return
        rle["counts"] = rle["counts"].decode("ascii")
        results.append({"image_id": image_id, "category_id": int(category_id),
                        "score": round(float(score), 4), "segmentation": rle,
                        "bbox": [float(v) for v in mask_util.toBbox(rle)]})

    for annotation in annotations:
        mask = coco_gt.annToMask(annotation)
        for copy_index in range(rng.choice([0, 1, 1, 1, 2])):
            shifted = np.roll(mask, rng.integers(-3, 4, size=2), axis=(0, 1))
            if rng.uniform() < 0.3:  # grown or shrunk by a pixel
                grown = shifted | np.roll(shifted, 1, 0) | np.roll(shifted, 1, 1)
                shrunk = shifted & np.roll(shifted, 1, 0) & np.roll(shifted, 1, 1)
                shifted = grown if rng.uniform() < 0.5 else shrunk
            category_id = annotation["category_id"]
            if rng.uniform() < 0.1:
                category_id = rng.choice(category_ids)
            add(shifted, annotation["image_id"], category_id, rng.beta(5, 2) / (1 + copy_index))
    for image_id in coco_gt.getImgIds():
        for other in rng.choice(len(annotations), size=3):
            add(coco_gt.annToMask(annotations[other]), image_id, rng.choice(category_ids),
                rng.beta(1, 6))
    return results


@pytest.fixture(scope="module")
def shapes_val_and_results():
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO(ensure_shapes_split("shapes_val"))
    return coco_gt, detections_near(coco_gt)


def pycocotools_stats(coco_gt, results, iou_type):
    """pycocotools' own evaluation, as its README runs it (and, for segm, on the masks' areas, as
    detectron2 does by dropping the boxes)."""
    results = copy.deepcopy(results)
    if iou_type == "segm":
        for result in results:
            result.pop("bbox")
    coco_eval = COCOeval(coco_gt, coco_gt.loadRes(results), iou_type)
    coco_eval.evaluate()
    coco_eval.accumulate()
    coco_eval.summarize()
    return coco_eval.stats


@pytest.mark.parametrize("iou_type", ["bbox", "segm"])
def test_cocoeval_opt_gives_the_12_pycocotools_numbers_on_shapes_val(shapes_val_and_results,
                                                                     iou_type):
    from detectron2.evaluation.fast_eval_api import COCOeval_opt

    coco_gt, results = shapes_val_and_results
    with contextlib.redirect_stdout(io.StringIO()):
        expected = pycocotools_stats(coco_gt, results, iou_type)
        # The path detectron2's COCOEvaluator takes with use_fast_impl=True.
        coco_eval = compat.evaluate_predictions_on_coco(coco_gt, results, iou_type,
                                                        use_fast_impl=True)

    assert type(coco_eval) is COCOeval_opt
    assert 0.1 < expected[0] < 0.9, expected  # a meaningful AP, neither empty nor perfect
    assert len(coco_eval.stats) == len(expected) == 12
    np.testing.assert_allclose(coco_eval.stats, expected, rtol=0, atol=1e-12)

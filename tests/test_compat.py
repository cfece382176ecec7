"""gn_det.compat: the detectron2 v0.6 fixes are applied for pb1-detectron2 only, and work; the API
differences between v0.6 and upstream detectron2 are bridged on both installs."""
import sys

import numpy as np
import pytest

from gn_det import compat


@pytest.mark.parametrize("distribution,needed", [
    ("pb1-detectron2", True),
    ("detectron2", False),  # upstream, built from source: compat is a no-op
    (None, False),
])
def test_fixes_apply_only_to_the_pypi_v06_copy(distribution, needed):
    assert compat.needs_v06_fixes(distribution) is needed


def test_apply_does_nothing_for_upstream_detectron2(monkeypatch):
    monkeypatch.setattr(compat, "installed_detectron2_distribution", lambda: "detectron2")
    monkeypatch.setattr(compat, "_install_missing_extension_stub", pytest.fail)
    compat.apply()


NEEDS_V06_FIXES = compat.needs_v06_fixes(compat.installed_detectron2_distribution())


@pytest.mark.skipif(not NEEDS_V06_FIXES, reason="a test of the pb1-detectron2 fixes")
def test_apply_twice_is_harmless():
    compat.apply()
    compat.apply()
    import detectron2.data.build as build

    assert isinstance(build.np, compat._NumpyWithRemovedAliases)


@pytest.mark.skipif(compat.has_cpp_extension(), reason="detectron2 has its C++ extension")
def test_missing_extension_imports_but_using_an_operator_says_how_to_get_it():
    import detectron2.layers.deform_conv  # noqa: F401  (imports detectron2._C at import time)

    with pytest.raises(RuntimeError, match=r"without its C\+\+ extension.*build detectron2 from"):
        sys.modules["detectron2._C"].deform_conv_forward


@pytest.mark.skipif(NEEDS_V06_FIXES, reason="a test of detectron2 built from source")
def test_apply_leaves_detectron2_built_from_source_as_it_is():
    compat.apply()
    import detectron2.data.build as build

    assert build.np is np
    assert not isinstance(sys.modules.get("detectron2._C"), compat._MissingExtension)


@pytest.mark.skipif(not NEEDS_V06_FIXES, reason="a test of the pb1-detectron2 fixes")
def test_v06_code_paths_that_use_removed_numpy_aliases_and_pillow_names_work():
    import torch
    from detectron2.data.build import print_instances_class_histogram  # uses np.int
    from detectron2.data.transforms import ExtentTransform  # Image.LINEAR default argument
    from detectron2.structures import PolygonMasks

    print_instances_class_histogram([{"annotations": [{"category_id": 0}]}], ["thing"])
    assert ExtentTransform((0, 0, 4, 4), (4, 4)).interp is not None
    masks = PolygonMasks([[np.array([0, 0, 4, 0, 4, 4], dtype=np.float64)]])
    assert masks.nonempty().dtype == torch.bool
    assert not hasattr(np, "float") or np.float is float


def test_numpy_proxy_forwards_everything_else():
    proxy = compat._NumpyWithRemovedAliases()
    assert proxy.int is int and proxy.zeros is np.zeros and proxy.float32 is np.float32


@pytest.mark.parametrize("use_fast_impl", [False, True])
def test_coco_evaluation_picks_pycocotools_or_cocoeval_opt_on_any_detectron2(use_fast_impl):
    from detectron2.evaluation import coco_evaluation
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    if use_fast_impl and not compat.has_cpp_extension():
        pytest.skip("detectron2 was installed without its C++ extension (COCOeval_opt)")
    coco_gt = COCO()
    coco_gt.dataset = {
        "images": [{"id": 1, "height": 20, "width": 20}],
        "categories": [{"id": 1, "name": "box"}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "bbox": [2, 2, 10, 10],
                         "area": 100, "iscrowd": 0}]}
    coco_gt.createIndex()
    results = [{"image_id": 1, "category_id": 1, "bbox": [2, 2, 10, 10], "score": 0.9}]

    coco_eval = compat.evaluate_predictions_on_coco(coco_gt, results, "bbox", use_fast_impl)

    expected_class = coco_evaluation.COCOeval_opt if use_fast_impl else COCOeval
    assert type(coco_eval) is expected_class
    assert coco_eval.stats[0] == pytest.approx(1.0)  # the one box found exactly: AP 1

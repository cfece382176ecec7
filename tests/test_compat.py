"""gn_det.compat: the detectron2 v0.6 fixes are applied for pb1-detectron2 only, and work."""
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


@pytest.mark.skipif(not compat.needs_v06_fixes(compat.installed_detectron2_distribution()),
                    reason="needs pb1-detectron2")
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

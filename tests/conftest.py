import dataclasses
import glob
import os

import gn_det  # noqa: F401  (first: detectron2 fixes and registration)
import pytest
import torch
from detectron2.data import MetadataCatalog

from gn_det.config import load_config
from gn_det.data import SHAPES_SPLITS
from gn_det.data import datasets as shapes_datasets

CONFIG_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "configs")


def preset_paths():
    """Every runnable preset (Base-* files are only shared parts)."""
    return sorted(
        path for path in glob.glob(os.path.join(CONFIG_DIR, "*.yaml"))
        if not os.path.basename(path).startswith("Base-")
    )


def preset_cfg(name, *overrides):
    """The config of preset ``configs/<name>`` on CPU without pretrained weights."""
    return load_config(os.path.join(CONFIG_DIR, name),
                       ["MODEL.DEVICE", "cpu", "MODEL.WEIGHTS", "", *overrides])


@pytest.fixture(autouse=True)
def _seeded():
    torch.manual_seed(0)


@pytest.fixture
def small_shapes(tmp_path, monkeypatch):
    """Shapes splits of a few images, cached under tmp_path; yields the cache directory.

    Afterwards the metadata points at the normal cache again, not at a deleted tmp_path."""
    registered = {name: (MetadataCatalog.get(name).json_file, MetadataCatalog.get(name).image_root)
                  for name in SHAPES_SPLITS}
    monkeypatch.setenv("GN_DET_SHAPES_DIR", str(tmp_path))
    for name, spec in SHAPES_SPLITS.items():
        monkeypatch.setitem(SHAPES_SPLITS, name, dataclasses.replace(spec, num_images=3))
    yield tmp_path
    for name, paths in registered.items():
        shapes_datasets._set_metadata(name, *paths)

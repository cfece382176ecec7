import dataclasses
import glob
import os

import gn_det  # noqa: F401  (first: detectron2 fixes and registration)
import pytest
import torch
from detectron2.data import MetadataCatalog

from gn_det.config import load_config
from gn_det.data import SHAPES_SPLITS, ensure_shapes_split
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


def _registered_shapes_paths():
    return {name: (MetadataCatalog.get(name).json_file, MetadataCatalog.get(name).image_root)
            for name in SHAPES_SPLITS}


def _restore_shapes_paths(registered):
    for name, paths in registered.items():
        shapes_datasets._set_metadata(name, *paths)


@pytest.fixture
def small_shapes(tmp_path, monkeypatch):
    """Shapes splits of a few images, cached under tmp_path; yields the cache directory.

    Afterwards the metadata points at the normal cache again, not at a deleted tmp_path."""
    registered = _registered_shapes_paths()
    monkeypatch.setenv("GN_DET_SHAPES_DIR", str(tmp_path))
    for name, spec in SHAPES_SPLITS.items():
        monkeypatch.setitem(SHAPES_SPLITS, name, dataclasses.replace(spec, num_images=3))
    yield tmp_path
    _restore_shapes_paths(registered)


@pytest.fixture(scope="session")
def shapes_train_cache(tmp_path_factory):
    """A shapes cache holding the full shapes_train split (generated once per session, a few
    seconds): what a training process started by a test finds under GN_DET_SHAPES_DIR. Such a
    process sees the registered split sizes, not a monkeypatched few."""
    root = tmp_path_factory.mktemp("shapes_cache")
    registered = _registered_shapes_paths()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("GN_DET_SHAPES_DIR", str(root))
        ensure_shapes_split("shapes_train")
    _restore_shapes_paths(registered)
    return root


@pytest.fixture
def shapes_train_env(shapes_train_cache, monkeypatch):
    """This process and the processes it starts use :func:`shapes_train_cache`; returns the
    environment for subprocesses."""
    registered = _registered_shapes_paths()
    monkeypatch.setenv("GN_DET_SHAPES_DIR", str(shapes_train_cache))
    yield dict(os.environ)
    _restore_shapes_paths(registered)


# A ResNet-18 layout 8 channels wide (GN: 4 groups): pretraining tests train it in seconds.
TINY_RESNET = ["MODEL.RESNETS.STEM_OUT_CHANNELS", "8", "MODEL.RESNETS.RES2_OUT_CHANNELS", "8",
               "MODEL.GN.NUM_GROUPS", "4", "MODEL.DEVICE", "cpu"]


@pytest.fixture(scope="session")
def tiny_image_folder(tmp_path_factory):
    """A shapes classification set in ImageFolder layout: 2 train and 1 val image per class,
    32 x 32 (generated once per session, under a second)."""
    from gn_det.data.shapes_classification import CLASSES, ClassificationSplit, generate_split

    root = tmp_path_factory.mktemp("image_folder")
    for split, per_class in (("train", 2), ("val", 1)):
        generate_split(str(root), ClassificationSplit(split, per_class * len(CLASSES), seed=0,
                                                      image_size=32), progress=False)
    return root

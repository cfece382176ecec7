import glob
import os

import gn_det  # noqa: F401  (first: detectron2 fixes and registration)
import pytest
import torch

from gn_det.config import load_config

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

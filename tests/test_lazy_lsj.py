"""The GN versions of detectron2's new_baselines LSJ recipes: GN exactly where detectron2 puts
SyncBN, everything else (schedule, solver, data, AMP, from scratch) detectron2's recipe."""
import glob
import os
import re

import pytest
from detectron2 import model_zoo
from detectron2.config import instantiate
from detectron2.layers import FrozenBatchNorm2d
from omegaconf import OmegaConf
from torch import nn

from conftest import CONFIG_DIR
from gn_det.lazy import TRAIN_KEYS, load_lazy_config

LSJ_PRESETS = sorted(glob.glob(os.path.join(CONFIG_DIR, "lazy", "mask_rcnn_*_gn_*ep_LSJ.py")))
# Ours -> detectron2's file name.
NAME = re.compile(r"mask_rcnn_R(\d+)_FPN_gn_(\d+)ep_LSJ\.py")


def detectron2_recipe(path):
    depth, epochs = NAME.fullmatch(os.path.basename(path)).groups()
    return f"new_baselines/mask_rcnn_R_{depth}_FPN_{epochs}ep_LSJ.py"


def container(node):
    return OmegaConf.to_container(node, resolve=True)


def test_every_detectron2_resnet_lsj_recipe_has_a_gn_version():
    zoo = os.path.join(os.path.dirname(model_zoo.__file__), "configs", "new_baselines")
    theirs = sorted(os.path.basename(p) for p in glob.glob(os.path.join(zoo, "mask_rcnn_R_*.py")))
    ours = sorted(detectron2_recipe(p).split("/")[1] for p in LSJ_PRESETS)
    assert ours == theirs and len(ours) == 7


@pytest.mark.parametrize("path", LSJ_PRESETS, ids=os.path.basename)
def test_gn_lsj_preset_keeps_detectron2s_recipe(path):
    ours = load_lazy_config(path, ["train.device=cpu"])
    theirs = model_zoo.get_config(detectron2_recipe(path))
    assert container(ours.lr_multiplier) == container(theirs.lr_multiplier)
    assert container(ours.optimizer) == container(theirs.optimizer)
    for part in ("train", "test"):
        assert container(ours.dataloader[part]) == container(theirs.dataloader[part])
    train = container(ours.train)
    assert {key: train.pop(key) for key in TRAIN_KEYS} == TRAIN_KEYS
    # Only the CPU fallback of this machine differs (AMP too, when there is no GPU).
    expected = dict(container(theirs.train), device="cpu")
    expected["amp"] = train["amp"]
    assert train == expected
    assert ours.train.init_checkpoint == "" and ours.model.backbone.bottom_up.freeze_at == 0
    assert ours.dataloader.evaluator.backend == "pycocotools"


@pytest.mark.parametrize("name", ["mask_rcnn_R50_FPN_gn_100ep_LSJ.py"])
def test_gn_lsj_model_has_group_norm_wherever_detectron2_has_sync_bn(name):
    path = os.path.join(CONFIG_DIR, "lazy", name)
    ours = instantiate(load_lazy_config(path, ["train.device=cpu"]).model)
    theirs = instantiate(model_zoo.get_config(detectron2_recipe(path)).model)
    ours_modules, theirs_modules = dict(ours.named_modules()), dict(theirs.named_modules())
    assert list(ours_modules) == list(theirs_modules)
    sync_bn = {name: module.num_features for name, module in theirs_modules.items()
               if isinstance(module, nn.modules.batchnorm._BatchNorm)}
    group_norm = {name: module.num_channels for name, module in ours_modules.items()
                  if isinstance(module, nn.GroupNorm)}
    assert group_norm == sync_bn and len(group_norm) == 69
    assert {module.num_groups for module in ours.modules() if isinstance(module, nn.GroupNorm)} == {32}
    assert not any(isinstance(m, (nn.modules.batchnorm._BatchNorm, FrozenBatchNorm2d))
                   for m in ours.modules())
    assert ([(n, p.shape) for n, p in ours.named_parameters()]
            == [(n, p.shape) for n, p in theirs.named_parameters()])


def test_gn_lsj_group_norm_fields_reach_every_layer():
    path = os.path.join(CONFIG_DIR, "lazy", "mask_rcnn_R50_FPN_gn_50ep_LSJ.py")
    model = instantiate(load_lazy_config(path, ["train.device=cpu", "gn.num_groups=-1",
                                                "gn.dim_per_group=16", "gn.eps=1e-3"]).model)
    norms = [m for m in model.modules() if isinstance(m, nn.GroupNorm)]
    assert len(norms) == 69
    assert all(m.num_groups == m.num_channels // 16 and m.eps == 1e-3 for m in norms)

"""Every YAML preset has a lazy twin (configs/lazy/<same stem>.py) that builds the same thing.

Independent of how either is written, each pair is compared on what it builds: the model's
modules (type, in order), parameters (name, shape, trainable), buffers, GroupNorm layers (groups,
channels, epsilon) and every plain setting its modules hold (RPN and ROI sampling, NMS, top-k,
poolers, matchers, box coders...); the optimizer's per-parameter LR, momentum and weight decay;
the LR multiplier at the iterations where it changes; the train and test data mappers (input
sizes, augmentations, formats); and the run settings gn_det's engine reads (batch, iterations,
weights, datasets, checkpoint period).
"""
import copy
import glob
import os

import pytest
import torch
from detectron2.config import instantiate
from detectron2.data import DatasetMapper
from detectron2.solver import build_lr_scheduler
from omegaconf import DictConfig, ListConfig
from torch import nn

from conftest import CONFIG_DIR, preset_cfg, preset_paths
from gn_det.config import load_config
from gn_det.lazy import load_lazy_config, training_view
from gn_det.lazy.config import VIEW_KEYS
from gn_det.modeling import build_model
from gn_det.solver import build_optimizer

LAZY_DIR = os.path.join(CONFIG_DIR, "lazy")
PLAIN = (int, float, str, bool, type(None))


def lazy_cfg(stem, *overrides):
    return load_lazy_config(os.path.join(LAZY_DIR, stem + ".py"),
                            ["train.device=cpu", "train.init_checkpoint=", *overrides])


def settings(value, depth=0):
    """The plain settings held by ``value`` (numbers, strings, nested in containers and plain
    objects such as Matcher or Box2BoxTransform); modules and tensors are compared elsewhere."""
    if isinstance(value, PLAIN):
        return value
    if isinstance(value, (list, tuple, ListConfig)):
        return tuple(settings(item, depth) for item in value)
    if isinstance(value, (dict, DictConfig)):
        return {key: settings(item, depth) for key, item in value.items()}
    if isinstance(value, (nn.Module, torch.Tensor)) or depth > 2:
        return type(value).__name__
    if callable(value) and not hasattr(value, "__dict__"):
        return getattr(value, "__qualname__", type(value).__name__)
    if hasattr(value, "__dict__"):
        return (type(value).__name__,
                {key: settings(item, depth + 1) for key, item in vars(value).items()
                 if not key.startswith("_")})
    return type(value).__name__


def model_description(model):
    return {
        "modules": [(name, type(module).__name__) for name, module in model.named_modules()],
        "parameters": [(name, tuple(p.shape), p.requires_grad)
                       for name, p in model.named_parameters()],
        "parameter count": sum(p.numel() for p in model.parameters()),
        "group norms": [(name, m.num_groups, m.num_channels, m.eps)
                        for name, m in model.named_modules() if isinstance(m, nn.GroupNorm)],
        "settings": {name: settings({key: value for key, value in vars(module).items()
                                     if not key.startswith("_")})
                     for name, module in model.named_modules()},
    }


def optimizer_description(optimizer, model):
    names = {id(p): name for name, p in model.named_parameters()}
    per_parameter = {names[id(p)]: {key: value for key, value in group.items() if key != "params"}
                     for group in optimizer.param_groups for p in group["params"]}
    return type(optimizer).__name__, per_parameter


def schedule_points(max_iter, warmup, steps):
    points = {0, 1, warmup - 1, warmup, warmup + 1, max_iter - 1}
    points |= {step + offset for step in steps for offset in (-1, 0, 1)}
    return sorted(point for point in points if 0 <= point < max_iter)


def test_every_yaml_preset_has_a_lazy_twin():
    stems = [os.path.basename(path)[:-len(".yaml")] for path in preset_paths()]
    missing = [stem for stem in stems if not os.path.isfile(os.path.join(LAZY_DIR, stem + ".py"))]
    assert not missing, f"YAML presets without configs/lazy/<stem>.py: {missing}"


@pytest.mark.parametrize("path", preset_paths(), ids=os.path.basename)
def test_lazy_twin_builds_what_the_yaml_preset_builds(path):
    stem = os.path.basename(path)[:-len(".yaml")]
    yaml_cfg = preset_cfg(os.path.basename(path))
    lazy = lazy_cfg(stem)

    yaml_model, lazy_model = build_model(yaml_cfg), instantiate(lazy.model)
    yaml_description, lazy_description = model_description(yaml_model), model_description(lazy_model)
    for part in yaml_description:
        assert lazy_description[part] == yaml_description[part], part
    yaml_buffers, lazy_buffers = dict(yaml_model.named_buffers()), dict(lazy_model.named_buffers())
    assert list(lazy_buffers) == list(yaml_buffers)
    for name, buffer in yaml_buffers.items():
        assert torch.equal(lazy_buffers[name], buffer), name

    yaml_optimizer = build_optimizer(yaml_cfg, yaml_model)
    optimizer_cfg = copy.deepcopy(lazy.optimizer)
    optimizer_cfg.params.model = lazy_model
    lazy_optimizer = instantiate(optimizer_cfg)
    assert (optimizer_description(lazy_optimizer, lazy_model)
            == optimizer_description(yaml_optimizer, yaml_model))

    solver = yaml_cfg.SOLVER
    yaml_multiplier = build_lr_scheduler(yaml_cfg, yaml_optimizer)._multiplier
    lazy_multiplier = instantiate(lazy.lr_multiplier)
    assert lazy.train.max_iter == solver.MAX_ITER
    for iteration in schedule_points(solver.MAX_ITER, solver.WARMUP_ITERS, solver.STEPS):
        where = iteration / solver.MAX_ITER
        assert lazy_multiplier(where) == pytest.approx(yaml_multiplier(where), rel=1e-12), iteration

    for is_train, node in ((True, lazy.dataloader.train.mapper),
                           (False, lazy.dataloader.test.mapper)):
        assert settings(vars(instantiate(node))) == settings(vars(DatasetMapper(yaml_cfg,
                                                                                is_train)))

    # The run settings as written (weights included).
    written_yaml = load_config(path, ["MODEL.DEVICE", "cpu"])
    view = training_view(load_lazy_config(os.path.join(LAZY_DIR, stem + ".py"),
                                          ["train.device=cpu"]))
    for key in [*VIEW_KEYS, "MODEL.MASK_ON"]:
        yaml_value, view_value = written_yaml, view
        for part in key.split("."):
            yaml_value, view_value = yaml_value[part], view_value[part]
        assert view_value == yaml_value, key

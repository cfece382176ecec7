import pytest
from detectron2.modeling import build_model
from torch import nn

from conftest import preset_cfg
from gn_det.solver import build_optimizer


def hyperparameters_by_param(optimizer):
    return {id(p): group for group in optimizer.param_groups for p in group["params"]}


@pytest.mark.parametrize("overrides", [
    (),
    ("SOLVER.WEIGHT_DECAY_BIAS", 1e-4),
    ("SOLVER.WEIGHT_DECAY_BIAS", 1e-4, "SOLVER.BIAS_LR_FACTOR", 2.0),
])
def test_every_gn_gamma_and_beta_gets_zero_weight_decay(overrides):
    cfg = preset_cfg("mask_rcnn_R50_FPN_gn_scratch.yaml", *overrides)
    model = build_model(cfg)
    groups = hyperparameters_by_param(build_optimizer(cfg, model))
    group_norms = [m for m in model.modules() if isinstance(m, nn.GroupNorm)]
    assert group_norms
    for norm in group_norms:
        for param in (norm.weight, norm.bias):
            assert groups[id(param)]["weight_decay"] == 0.0
    conv = model.backbone.bottom_up.res3[0].conv2
    assert groups[id(conv.weight)]["weight_decay"] == 1e-4
    expected_bias_lr = cfg.SOLVER.BASE_LR * cfg.SOLVER.BIAS_LR_FACTOR
    assert groups[id(group_norms[0].bias)]["lr"] == pytest.approx(expected_bias_lr)


def test_every_trainable_parameter_is_optimized_once():
    cfg = preset_cfg("mask_rcnn_R50_FPN_gn.yaml", "SOLVER.WEIGHT_DECAY_BIAS", 1e-4)
    model = build_model(cfg)
    optimized = [p for g in build_optimizer(cfg, model).param_groups for p in g["params"]]
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert len(optimized) == len({id(p) for p in optimized}) == len(trainable)

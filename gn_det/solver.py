"""Optimizer whose norm parameters get ``SOLVER.WEIGHT_DECAY_NORM`` whatever the bias settings.

detectron2 applies ``SOLVER.WEIGHT_DECAY_BIAS`` after ``WEIGHT_DECAY_NORM``, so setting the bias
decay gives GN's beta a non-zero decay. The paper says weight decay 0 on GN's gamma and beta is
important, so here the norm setting wins for every norm parameter (gamma and beta alike).
"""
import torch
from detectron2.solver.build import (
    get_default_optimizer_params,
    maybe_add_gradient_clipping,
    reduce_param_groups,
)
from torch import nn

# Modules whose affine parameters are norm parameters (GN, LN and IN are nn.GroupNorm here).
NORM_MODULE_TYPES = (nn.GroupNorm, nn.LayerNorm, nn.modules.batchnorm._NormBase)


def norm_parameters(model):
    """Trainable parameters that belong to normalization layers."""
    return [
        param
        for module in model.modules()
        if isinstance(module, NORM_MODULE_TYPES)
        for param in module.parameters(recurse=False)
        if param.requires_grad
    ]


def build_param_groups(cfg, model):
    solver = cfg.SOLVER
    groups = get_default_optimizer_params(
        model,
        base_lr=solver.BASE_LR,
        weight_decay_norm=solver.WEIGHT_DECAY_NORM,
        bias_lr_factor=solver.BIAS_LR_FACTOR,
        weight_decay_bias=solver.WEIGHT_DECAY_BIAS,
    )
    # Later groups override earlier ones for the same parameter (reduce_param_groups' contract).
    norm_group = {"params": norm_parameters(model), "weight_decay": solver.WEIGHT_DECAY_NORM}
    return reduce_param_groups(groups + [norm_group])


def build_optimizer(cfg, model):
    """SGD as detectron2 builds it, with the norm weight decay rule above."""
    return maybe_add_gradient_clipping(cfg, torch.optim.SGD)(
        build_param_groups(cfg, model),
        lr=cfg.SOLVER.BASE_LR,
        momentum=cfg.SOLVER.MOMENTUM,
        nesterov=cfg.SOLVER.NESTEROV,
        weight_decay=cfg.SOLVER.WEIGHT_DECAY,
    )

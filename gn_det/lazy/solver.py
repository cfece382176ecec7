"""Solver pieces of gn_det's lazy configs: the YAML presets' step schedule and gradient clipping."""
import torch
from detectron2.config import CfgNode as CN
from detectron2.config import LazyCall as L
from detectron2.solver import WarmupParamScheduler
from detectron2.solver.build import maybe_add_gradient_clipping
from fvcore.common.param_scheduler import MultiStepParamScheduler


def step_schedule(max_iter, steps, warmup_iters=500, warmup_factor=1.0 / 3, gamma=0.1,
                  warmup_method="linear"):
    """The ``lr_multiplier`` config of detectron2's WarmupMultiStepLR as the YAML keys
    (SOLVER.MAX_ITER, STEPS, GAMMA, WARMUP_ITERS, WARMUP_FACTOR, WARMUP_METHOD) describe it: LR x
    ``gamma`` at each step, after a warmup from ``warmup_factor`` over ``warmup_iters``."""
    return L(WarmupParamScheduler)(
        scheduler=L(MultiStepParamScheduler)(
            values=[gamma ** k for k in range(len(steps) + 1)],
            milestones=list(steps),
            num_updates=max_iter,
        ),
        warmup_factor=warmup_factor,
        warmup_length=min(warmup_iters / max_iter, 1.0),
        warmup_method=warmup_method,
    )


def clipped_sgd(params, *, clip_value, clip_type="norm", norm_type=2.0, **sgd_arguments):
    """torch's SGD with detectron2's gradient clipping (SOLVER.CLIP_GRADIENTS with ENABLED True
    and these CLIP_TYPE, CLIP_VALUE, NORM_TYPE), for the ``optimizer`` of a lazy config."""
    solver = CN({"CLIP_GRADIENTS": CN({"ENABLED": True, "CLIP_TYPE": clip_type,
                                       "CLIP_VALUE": clip_value, "NORM_TYPE": norm_type})})
    return maybe_add_gradient_clipping(CN({"SOLVER": solver}), torch.optim.SGD)(params,
                                                                                 **sgd_arguments)

# Paper Table 6, BN* long: R-50-FPN BN*, 4conv1fc, 270k (BN* does not gain from it). Lazy twin.
from gn_det.lazy import step_schedule

from .base.mask_rcnn_fpn import dataloader, gn, lr_multiplier, model, optimizer, train  # noqa: F401

# 270k schedule ("long"; Detectron's 3x): decay x0.1 at 210k and 250k.
train.max_iter = 270000
lr_multiplier = step_schedule(train.max_iter, (210000, 250000))

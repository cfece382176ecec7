# Paper Table 7: full GN from scratch, R-101, 270k (Detectron model 56421911). Lazy twin of the YAML preset.
from gn_det.lazy import step_schedule

from .base.mask_rcnn_fpn_gn import dataloader, gn, lr_multiplier, model, optimizer, train  # noqa: F401

model.backbone.bottom_up.stages.depth = 101
# From scratch: random init, and every stage trains (conv1 and res2 included).
train.init_checkpoint = ""
model.backbone.bottom_up.freeze_at = 0
# 270k schedule ("long"; Detectron's 3x): decay x0.1 at 210k and 250k.
train.max_iter = 270000
lr_multiplier = step_schedule(train.max_iter, (210000, 250000))

# Paper Table 6, BN* long: R-101-FPN BN*, 4conv1fc, 270k. Lazy twin of the YAML preset.
from gn_det.lazy import step_schedule

from .base.mask_rcnn_fpn import dataloader, gn, lr_multiplier, model, optimizer, train  # noqa: F401

# MSRA's ImageNet ResNet-101.
model.backbone.bottom_up.stages.depth = 101
train.init_checkpoint = "detectron2://ImageNetPretrained/MSRA/R-101.pkl"
# 270k schedule ("long"; Detectron's 3x): decay x0.1 at 210k and 250k.
train.max_iter = 270000
lr_multiplier = step_schedule(train.max_iter, (210000, 250000))

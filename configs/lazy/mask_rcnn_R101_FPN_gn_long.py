# Paper Table 6, GN long: full GN, R-101, 270k (Detectron model 48734779). Lazy twin of the YAML preset.
from gn_det.lazy import step_schedule

from .base.mask_rcnn_fpn_gn import dataloader, gn, lr_multiplier, model, optimizer, train  # noqa: F401

# FAIR's ImageNet ResNet-101 with GN (G=32), 22.6% top-1 error.
model.backbone.bottom_up.stages.depth = 101
train.init_checkpoint = "catalog://ImageNetPretrained/FAIR/R-101-GN"
# 270k schedule ("long"; Detectron's 3x): decay x0.1 at 210k and 250k.
train.max_iter = 270000
lr_multiplier = step_schedule(train.max_iter, (210000, 250000))

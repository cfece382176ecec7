# Paper Table 6, GN: full GN, R-101, 180k (Detectron model 48616724). Lazy twin of the YAML preset.
from .base.mask_rcnn_fpn_gn import dataloader, gn, lr_multiplier, model, optimizer, train  # noqa: F401

# FAIR's ImageNet ResNet-101 with GN (G=32), 22.6% top-1 error.
model.backbone.bottom_up.stages.depth = 101
train.init_checkpoint = "catalog://ImageNetPretrained/FAIR/R-101-GN"

# Paper Table 6, BN*: R-101-FPN BN*, 4conv1fc, 180k. Lazy twin of configs/mask_rcnn_R101_FPN_bnfrozen.yaml.
from .base.mask_rcnn_fpn import dataloader, gn, lr_multiplier, model, optimizer, train  # noqa: F401

# MSRA's ImageNet ResNet-101.
model.backbone.bottom_up.stages.depth = 101
train.init_checkpoint = "detectron2://ImageNetPretrained/MSRA/R-101.pkl"

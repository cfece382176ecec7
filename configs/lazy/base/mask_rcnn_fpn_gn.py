# Lazy twin of configs/Base-MaskRCNN-FPN-GN.yaml. Full GN (paper Table 6): GN in the ResNet, the
# FPN, the 4conv1fc box head and the mask head, fine-tuned from FAIR's GN ImageNet weights. G and
# epsilon come from the root ``gn`` node (defaults: 32, 1e-5).
from gn_det.lazy import use_group_norm

from .mask_rcnn_fpn import dataloader, gn, lr_multiplier, model, optimizer, train  # noqa: F401

use_group_norm(model)
# FAIR's GN weights put the stride-2 in the 3x3 conv.
model.backbone.bottom_up.stages.stride_in_1x1 = False
# FAIR's ImageNet ResNet-50 with GN (G=32), 24.0% top-1 error.
train.init_checkpoint = "catalog://ImageNetPretrained/FAIR/R-50-GN"

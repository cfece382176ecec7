# Paper Table 4, GN: Mask R-CNN R-50-C4 with GN in the backbone and the res5 head, 180k.
# Lazy twin of configs/mask_rcnn_R50_C4_gn.yaml.
from gn_det.lazy import gn_norm

from .base.mask_rcnn_c4 import dataloader, gn, lr_multiplier, model, optimizer, train  # noqa: F401

# GN in the stem, the res2-res4 backbone and the res5 RoI head.
model.backbone.stem.norm = gn_norm("backbone.stem")
model.backbone.stages.norm = gn_norm("backbone (res2..res4)")
model.roi_heads.res5.norm = gn_norm("roi_heads.res5")
# FAIR's GN weights put the stride-2 in the 3x3 conv.
model.backbone.stages.stride_in_1x1 = False
model.roi_heads.res5.stride_in_1x1 = False
# FAIR's ImageNet ResNet-50 with GN (G=32).
train.init_checkpoint = "catalog://ImageNetPretrained/FAIR/R-50-GN"

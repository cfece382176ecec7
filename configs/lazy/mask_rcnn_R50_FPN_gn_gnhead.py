# Paper Table 5 row 3: GN backbone (ResNet + FPN) and GN box head; the mask head has no norm. 180k.
# Lazy twin of configs/mask_rcnn_R50_FPN_gn_gnhead.yaml.
from .base.mask_rcnn_fpn_gn import dataloader, gn, lr_multiplier, model, optimizer, train  # noqa: F401

# Table 5 adds GN to the backbone and box head only.
model.roi_heads.mask_head.conv_norm = ""

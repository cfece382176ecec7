# Paper Table 5 text, 2fc head: R-50-FPN, BN* backbone, the 2fc box head of Detectron's baseline,
# 180k. Lazy twin of the YAML preset.
from .base.mask_rcnn_fpn import dataloader, gn, lr_multiplier, model, optimizer, train  # noqa: F401

# Two hidden fc layers, no convs (so no conv norm).
model.roi_heads.box_head.conv_dims = []
model.roi_heads.box_head.fc_dims = [1024, 1024]

# Paper Table 5, BN box head: BN* backbone, BN with batch statistics in the 4conv1fc box head
# (512 RoIs from one image are not i.i.d.: the paper reports ~9 AP worse), 180k. Lazy twin.
from .base.mask_rcnn_fpn import dataloader, gn, lr_multiplier, model, optimizer, train  # noqa: F401

# BatchNorm in training mode over the RoIs of each GPU.
model.roi_heads.box_head.conv_norm = "BN"

# Paper Table 7 reference: synced BN (statistics over all GPUs, not frozen) from scratch, R-50, 270k.
# Needs several GPUs to mean anything; on one process SyncBN is plain BN. Lazy twin.
from gn_det.lazy import step_schedule

from .base.mask_rcnn_fpn import dataloader, gn, lr_multiplier, model, optimizer, train  # noqa: F401

# Synced BN in the stem, every bottleneck and the shortcuts, the FPN convs and the head convs.
model.backbone.bottom_up.stem.norm = "SyncBN"
model.backbone.bottom_up.stages.norm = "SyncBN"
model.backbone.norm = "SyncBN"
model.roi_heads.box_head.conv_norm = "SyncBN"
model.roi_heads.mask_head.conv_norm = "SyncBN"
# From scratch: random init, and every stage trains (conv1 and res2 included).
train.init_checkpoint = ""
model.backbone.bottom_up.freeze_at = 0
# 270k schedule ("long"; Detectron's 3x): decay x0.1 at 210k and 250k.
train.max_iter = 270000
lr_multiplier = step_schedule(train.max_iter, (210000, 250000))

# Paper Table 5 row 2: BN* backbone, GN in the 4conv1fc box head, 180k. Lazy twin.
from gn_det.lazy import use_group_norm

from .base.mask_rcnn_fpn import dataloader, gn, lr_multiplier, model, optimizer, train  # noqa: F401

# GN in the 4 box head convs.
use_group_norm(model, backbone=False, mask_head=False)

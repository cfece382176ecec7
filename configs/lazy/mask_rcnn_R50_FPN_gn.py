# Paper Table 6, GN: full GN (backbone, FPN, box head, mask head), R-50, 180k. Lazy twin.
from .base.mask_rcnn_fpn_gn import dataloader, gn, lr_multiplier, model, optimizer, train  # noqa: F401

# Paper Table 4, BN*: Mask R-CNN R-50-C4, BN frozen, 180k. Lazy twin of the YAML preset.
from .base.mask_rcnn_c4 import dataloader, gn, lr_multiplier, model, optimizer, train  # noqa: F401

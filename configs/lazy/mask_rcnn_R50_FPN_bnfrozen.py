# Paper Table 5 row 1 (and Table 6 BN*, 180k): R-50-FPN, BN* backbone, 4conv1fc box head without
# norm. Lazy twin of configs/mask_rcnn_R50_FPN_bnfrozen.yaml.
from .base.mask_rcnn_fpn import dataloader, gn, lr_multiplier, model, optimizer, train  # noqa: F401
